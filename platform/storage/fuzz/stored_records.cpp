#include "platform/storage/fuzz/stored_records.h"

#include "platform/storage/record_codec.h"

namespace resdb {

void FillStoredRecords(fuzz::FuzzInput* input, const std::vector<std::string>& known_keys,
                       Storage* storage) {
  for (int count = input->TakeByte() % 16; count > 0; --count) {
    const uint8_t selector = input->TakeByte();
    std::string key;
    if (selector == 0xff) {
      key = input->TakeBytes();
    } else {
      key = known_keys[selector % known_keys.size()];
      if (selector & 0x80) key = IndexKey(key, input->TakeUint64());
    }
    const bool sealed = (input->TakeByte() & 1) == 0;
    const std::string value = input->TakeBytes();
    storage->Put(key, sealed ? SealRecord(value) : value).IgnoreError();
  }
}

void AddStoredRecords(const std::vector<StoredRecord>& records, fuzz::FuzzInputWriter* out) {
  out->AddByte(static_cast<uint8_t>(records.size()));
  for (const StoredRecord& record : records) {
    out->AddByte(record.key_selector);
    if (record.key_selector & 0x80) out->AddUint64(record.index);
    out->AddByte(record.sealed ? 0 : 1).AddBytes(record.value);
  }
}

}  // namespace resdb
