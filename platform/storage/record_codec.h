#ifndef PLATFORM_STORAGE_RECORD_CODEC_H_
#define PLATFORM_STORAGE_RECORD_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace resdb {

// Key and record encodings of the records the protocols and the state images keep in storage.
// All functions are pure and thread-safe.

// Appends `value` to `dst` as 8 bytes, most significant first.
void PutFixed64(std::string* dst, uint64_t value);
// Reads 8 bytes written by PutFixed64. `data` must hold at least 8 bytes.
uint64_t GetFixed64(const char* data);

// `tag` followed by `index` as 8 big-endian bytes, so that the keys of one tag sort by index.
std::string IndexKey(absl::string_view tag, uint64_t index);
// If `key` is `tag` followed by exactly 8 bytes, stores their value in `*index` and returns
// true; otherwise returns false and leaves `*index` alone.
bool ParseIndexKey(absl::string_view key, absl::string_view tag, uint64_t* index);

// `key` quoted and C-escaped (non-printable bytes as \xNN), for error messages.
std::string DescribeKey(absl::string_view key);

// CRC-32C (Castagnoli) of `data`.
uint32_t Crc32c(absl::string_view data);

// A record is a payload followed by the 4-byte big-endian CRC-32C of the payload.
std::string SealRecord(absl::string_view payload);
// The payload of `record`. DataLossError naming `component` and `key` if the record is shorter
// than its checksum or the checksum does not match.
absl::StatusOr<absl::string_view> UnsealRecord(absl::string_view component, absl::string_view key,
                                               absl::string_view record);

// SealRecord of the serialized `message`.
std::string EncodeMessageRecord(const google::protobuf::MessageLite& message);
// Unseals `record` and parses it into `*message`. DataLossError naming `component` and `key` if
// the record is damaged or does not parse.
absl::Status DecodeMessageRecord(absl::string_view component, absl::string_view key,
                                 absl::string_view record, google::protobuf::MessageLite* message);

// DataLossError "<component>: corrupt record at key <DescribeKey(key)>: <reason>".
absl::Status CorruptRecordError(absl::string_view component, absl::string_view key,
                                absl::string_view reason);

}  // namespace resdb

#endif  // PLATFORM_STORAGE_RECORD_CODEC_H_
