#include "platform/storage/storage.h"

#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "platform/storage/key_range.h"

namespace resdb {
namespace {

// Reserved key layout for versioned values (all integers big-endian so that versions of one
// key sort numerically):
//   "\xff" "m" + key                               -> 8-byte latest version
//   "\xff" "v" + 4-byte len(key) + key + 8-byte v  -> value of version v
// The length field keeps the history of "a" apart from the history of "ab".
constexpr char kReservedByte = '\xff';
constexpr char kMetaTag = 'm';
constexpr char kHistoryTag = 'v';

std::string Quoted(absl::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(key), "\"");
}

absl::Status CheckUserKey(absl::string_view key) {
  if (!key.empty() && key[0] == kReservedByte) {
    return absl::InvalidArgumentError(
        absl::StrCat("key ", Quoted(key), " starts with the reserved byte 0xFF"));
  }
  return absl::OkStatus();
}

absl::Status CheckVersionedKey(absl::string_view key) {
  if (key.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("versioned key of ", key.size(), " bytes exceeds the 4 GiB limit"));
  }
  return CheckUserKey(key);
}

void AppendBigEndian(uint64_t value, int bytes, std::string* out) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}

uint64_t DecodeBigEndian64(absl::string_view bytes) {
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

std::string EncodeVersion(uint64_t version) {
  std::string out;
  AppendBigEndian(version, 8, &out);
  return out;
}

std::string MetaKey(absl::string_view key) {
  return absl::StrCat(absl::string_view(&kReservedByte, 1), absl::string_view(&kMetaTag, 1), key);
}

std::string HistoryPrefix(absl::string_view key) {
  std::string out = {kReservedByte, kHistoryTag};
  AppendBigEndian(key.size(), 4, &out);
  out.append(key.data(), key.size());
  return out;
}

std::string HistoryKey(absl::string_view key, uint64_t version) {
  std::string out = HistoryPrefix(key);
  AppendBigEndian(version, 8, &out);
  return out;
}

}  // namespace

void WriteBatch::Put(absl::string_view key, absl::string_view value) {
  ops_.push_back(Op{false, std::string(key), std::string(value)});
  bytes_ += key.size() + value.size();
}

void WriteBatch::Delete(absl::string_view key) {
  ops_.push_back(Op{true, std::string(key), std::string()});
  bytes_ += key.size();
}

void WriteBatch::AppendPrefixed(absl::string_view prefix, const WriteBatch& batch) {
  for (const Op& op : batch.ops()) {
    const std::string key = absl::StrCat(prefix, op.key);
    if (op.is_delete) {
      Delete(key);
    } else {
      Put(key, op.value);
    }
  }
}

void WriteBatch::Clear() {
  ops_.clear();
  bytes_ = 0;
}

absl::Status Storage::Put(absl::string_view key, absl::string_view value, bool sync) {
  if (absl::Status status = CheckUserKey(key); !status.ok()) return status;
  WriteBatch batch;
  batch.Put(key, value);
  return Write(batch, sync);
}

absl::Status Storage::Delete(absl::string_view key, bool sync) {
  if (absl::Status status = CheckUserKey(key); !status.ok()) return status;
  WriteBatch batch;
  batch.Delete(key);
  return Write(batch, sync);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Storage::GetRange(
    absl::string_view begin, absl::string_view end, size_t limit) {
  std::vector<std::pair<std::string, std::string>> out;
  absl::Status status = Scan(begin, end, [&](absl::string_view key, absl::string_view value) {
    out.emplace_back(std::string(key), std::string(value));
    return limit == 0 || out.size() < limit;
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<uint64_t> Storage::SetWithVersion(absl::string_view key, absl::string_view value,
                                                 uint64_t expected_version, bool sync) {
  if (absl::Status status = CheckVersionedKey(key); !status.ok()) return status;

  std::lock_guard<std::mutex> lock(version_mu_);
  uint64_t current = 0;
  absl::StatusOr<std::string> meta = Get(MetaKey(key));
  if (meta.ok()) {
    if (meta->size() != 8) {
      return absl::DataLossError(absl::StrCat("version record of key ", Quoted(key), " has ",
                                              meta->size(), " bytes, expected 8"));
    }
    current = DecodeBigEndian64(*meta);
  } else if (!absl::IsNotFound(meta.status())) {
    return meta.status();
  }
  if (current != expected_version) {
    return absl::FailedPreconditionError(absl::StrCat("key ", Quoted(key), " is at version ",
                                                      current, ", expected ", expected_version));
  }

  const uint64_t next = current + 1;
  WriteBatch batch;
  batch.Put(key, value);
  batch.Put(MetaKey(key), EncodeVersion(next));
  batch.Put(HistoryKey(key, next), value);
  if (next > kMaxVersionHistory) batch.Delete(HistoryKey(key, next - kMaxVersionHistory));
  if (absl::Status status = Write(batch, sync); !status.ok()) return status;
  return next;
}

absl::StatusOr<VersionedValue> Storage::GetWithVersion(absl::string_view key, uint64_t version) {
  if (absl::Status status = CheckVersionedKey(key); !status.ok()) return status;
  if (version != 0) {
    absl::StatusOr<std::string> value = Get(HistoryKey(key, version));
    if (absl::IsNotFound(value.status())) {
      return absl::NotFoundError(
          absl::StrCat("version ", version, " of key ", Quoted(key), " does not exist"));
    }
    if (!value.ok()) return value.status();
    return VersionedValue{*std::move(value), version};
  }

  // The last history entry is the latest version; one Scan reads it from a single snapshot.
  absl::StatusOr<std::vector<VersionedValue>> history = GetHistory(key);
  if (!history.ok()) return history.status();
  if (history->empty()) {
    return absl::NotFoundError(absl::StrCat("key ", Quoted(key), " has no versions"));
  }
  return std::move(history->back());
}

absl::StatusOr<std::vector<VersionedValue>> Storage::GetHistory(absl::string_view key,
                                                                uint64_t min_version,
                                                                uint64_t max_version) {
  if (absl::Status status = CheckVersionedKey(key); !status.ok()) return status;
  std::vector<VersionedValue> out;
  if (max_version != 0 && min_version > max_version) return out;

  const std::string prefix = HistoryPrefix(key);
  const std::string begin = HistoryKey(key, min_version);
  const std::string end = (max_version == 0 || max_version == std::numeric_limits<uint64_t>::max())
                              ? PrefixSuccessor(prefix)
                              : HistoryKey(key, max_version + 1);
  absl::Status corrupt;
  absl::Status status =
      Scan(begin, end, [&](absl::string_view history_key, absl::string_view value) {
        absl::string_view suffix = history_key.substr(prefix.size());
        if (suffix.size() != 8) {
          corrupt = absl::DataLossError(absl::StrCat(
              "malformed history entry ", Quoted(history_key), " for key ", Quoted(key)));
          return false;
        }
        out.push_back(VersionedValue{std::string(value), DecodeBigEndian64(suffix)});
        return true;
      });
  if (!status.ok()) return status;
  if (!corrupt.ok()) return corrupt;
  return out;
}

}  // namespace resdb
