#include "platform/storage/record_codec.h"

#include <array>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace resdb {
namespace {

constexpr size_t kChecksumBytes = 4;

std::array<uint32_t, 256> MakeCrc32cTable() {
  constexpr uint32_t kPolynomial = 0x82f63b78;  // Castagnoli, reflected.
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) ? (crc >> 1) ^ kPolynomial : crc >> 1;
    }
    table[i] = crc;
  }
  return table;
}

void PutFixed32(std::string* dst, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    dst->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint32_t GetFixed32(const char* data) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

}  // namespace

void PutFixed64(std::string* dst, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    dst->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t GetFixed64(const char* data) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

std::string IndexKey(absl::string_view tag, uint64_t index) {
  std::string key(tag);
  PutFixed64(&key, index);
  return key;
}

bool ParseIndexKey(absl::string_view key, absl::string_view tag, uint64_t* index) {
  if (key.size() != tag.size() + 8 || key.substr(0, tag.size()) != tag) return false;
  *index = GetFixed64(key.data() + tag.size());
  return true;
}

std::string DescribeKey(absl::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(key), "\"");
}

uint32_t Crc32c(absl::string_view data) {
  static const std::array<uint32_t, 256> kTable = MakeCrc32cTable();
  uint32_t crc = 0xffffffff;
  for (unsigned char byte : data) crc = kTable[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffff;
}

std::string SealRecord(absl::string_view payload) {
  std::string record(payload);
  PutFixed32(&record, Crc32c(payload));
  return record;
}

absl::StatusOr<absl::string_view> UnsealRecord(absl::string_view component, absl::string_view key,
                                               absl::string_view record) {
  if (record.size() < kChecksumBytes) {
    return CorruptRecordError(
        component, key,
        absl::StrCat("record of ", record.size(), " bytes is shorter than its checksum"));
  }
  absl::string_view payload = record.substr(0, record.size() - kChecksumBytes);
  uint32_t stored = GetFixed32(record.data() + payload.size());
  if (stored != Crc32c(payload)) {
    return CorruptRecordError(component, key, "checksum mismatch");
  }
  return payload;
}

std::string EncodeMessageRecord(const google::protobuf::MessageLite& message) {
  return SealRecord(message.SerializeAsString());
}

absl::Status DecodeMessageRecord(absl::string_view component, absl::string_view key,
                                 absl::string_view record, google::protobuf::MessageLite* message) {
  absl::StatusOr<absl::string_view> payload = UnsealRecord(component, key, record);
  if (!payload.ok()) return payload.status();
  if (!message->ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
    return CorruptRecordError(component, key,
                              absl::StrCat("does not parse as ", message->GetTypeName()));
  }
  return absl::OkStatus();
}

absl::Status CorruptRecordError(absl::string_view component, absl::string_view key,
                                absl::string_view reason) {
  return absl::DataLossError(
      absl::StrCat(component, ": corrupt record at key ", DescribeKey(key), ": ", reason));
}

}  // namespace resdb
