#ifndef PLATFORM_STORAGE_FUZZ_STORED_RECORDS_H_
#define PLATFORM_STORAGE_FUZZ_STORED_RECORDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/storage/storage.h"

namespace resdb {

// Fills `storage` with what a damaged or forged disk could hold, from the input:
//   count byte % 16, then per record a key selector byte, the key's operands, a seal byte
//   and the value (TakeBytes()).
// Key selector s: 0xff a raw key (TakeBytes()); otherwise known_keys[s % size], followed by
// an 8-byte index (TakeUint64()) when s & 0x80, the way indexed keys are built (IndexKey).
// Seal byte even: the value is sealed with its checksum, so that forged contents get past the
// CRC into the decoders; odd: stored as given.
void FillStoredRecords(fuzz::FuzzInput* input, const std::vector<std::string>& known_keys,
                       Storage* storage);

// Writes the input that FillStoredRecords reads back as `records`.
struct StoredRecord {
  uint8_t key_selector;
  uint64_t index;  // used when key_selector & 0x80
  std::string value;
  bool sealed = true;
};
void AddStoredRecords(const std::vector<StoredRecord>& records, fuzz::FuzzInputWriter* out);

}  // namespace resdb

#endif  // PLATFORM_STORAGE_FUZZ_STORED_RECORDS_H_
