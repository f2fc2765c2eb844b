#include "service/kv/kv_executor.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "platform/common/fail_stop.h"

namespace resdb {
namespace {

constexpr char kReservedByte = '\xff';
// Where the count of data bytes lives: among the reserved keys, apart from the storage's own
// ("\xff" "m" and "\xff" "v").
constexpr absl::string_view kUsedBytesKey =
    "\xff"
    "kv.used_bytes";

KVResponse Failure(KVResponse::Status status, absl::string_view message) {
  KVResponse response;
  response.set_status(status);
  response.set_error(std::string(message));
  return response;
}

std::unique_ptr<std::string> Serialize(const KVResponse& response) {
  auto out = std::make_unique<std::string>();
  response.SerializeToString(out.get());
  return out;
}

// A write refused for what it asks (a bad key, a stale version) is refused alike on every
// replica. Any other failure is this replica's disk: answering it would make this replica's
// results differ from the others', and answering OK would promise what is not stored.
KVResponse WriteFailure(absl::string_view what, const absl::Status& status) {
  if (!absl::IsInvalidArgument(status) && !absl::IsFailedPrecondition(status) &&
      !absl::IsNotFound(status)) {
    FailStop(absl::StrCat("kv: cannot ", what), status);
  }
  if (absl::IsNotFound(status)) return Failure(KVResponse::NOT_FOUND, status.message());
  if (absl::IsInvalidArgument(status)) return Failure(KVResponse::INVALID, status.message());
  return Failure(KVResponse::ERROR, status.message());
}

// Maps a storage error to the service status a client can act on.
KVResponse StorageFailure(const absl::Status& status) {
  if (absl::IsNotFound(status)) return Failure(KVResponse::NOT_FOUND, status.message());
  if (absl::IsInvalidArgument(status)) return Failure(KVResponse::INVALID, status.message());
  return Failure(KVResponse::ERROR, status.message());
}

std::string Quoted(absl::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(key), "\"");
}

absl::Status CheckKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("key must not be empty");
  if (key.size() > KVExecutor::kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("key of ", key.size(), " bytes exceeds the ",
                                                   KVExecutor::kMaxKeyBytes, "-byte limit"));
  }
  if (key[0] == kReservedByte) {
    return absl::InvalidArgumentError(
        absl::StrCat("key ", Quoted(key), " starts with the reserved byte 0xFF"));
  }
  return absl::OkStatus();
}

bool IsReadOnlyCommand(KVRequest::CMD cmd) {
  switch (cmd) {
    case KVRequest::GET:
    case KVRequest::GETRANGE:
    case KVRequest::GET_WITH_VERSION:
    case KVRequest::GET_HISTORY:
      return true;
    default:
      return false;
  }
}

// Adds items to a GETRANGE / GET_HISTORY result until the client's limit or the server's cap
// (items, bytes; at least one item) is reached, and marks a result the cap cut short.
class ResultBuilder {
 public:
  ResultBuilder(uint32_t asked, KVResponse* response)
      : asked_(asked == 0 ? KVExecutor::kDefaultRangeLimit : asked),
        limit_(std::min<size_t>(asked_, KVExecutor::kDefaultRangeLimit)),
        response_(response) {}

  // Adds the item unless the result is full; false once it is.
  bool Add(absl::string_view key, absl::string_view value, uint64_t version) {
    const size_t items = static_cast<size_t>(response_->items_size());
    if (items >= limit_ ||
        (items > 0 && bytes_ + key.size() + value.size() > KVExecutor::kMaxResultBytes)) {
      response_->set_truncated(items < asked_);
      return false;
    }
    bytes_ += key.size() + value.size();
    KVItem* item = response_->add_items();
    item->set_key(std::string(key));
    item->set_value(std::string(value));
    item->set_version(version);
    return true;
  }

 private:
  const size_t asked_;
  const size_t limit_;
  KVResponse* const response_;
  size_t bytes_ = 0;
};

// What an entry of `key` holding `value` counts toward the quota.
int64_t EntryBytes(absl::string_view key, absl::string_view value) {
  return static_cast<int64_t>(key.size() + value.size());
}

// The bytes the entry of `key` holds now: 0 if absent.
absl::StatusOr<int64_t> CurrentEntryBytes(Storage* storage, absl::string_view key) {
  absl::StatusOr<std::string> value = storage->Get(key);
  if (absl::IsNotFound(value.status())) return 0;
  if (!value.ok()) return value.status();
  return EntryBytes(key, *value);
}

// Adds a signed change to a count that never goes below 0.
uint64_t Adjusted(uint64_t used, int64_t delta) {
  if (delta < 0 && static_cast<uint64_t>(-delta) > used) return 0;
  return used + static_cast<uint64_t>(delta);
}

std::string EncodeCount(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, value >>= 8) out[i] = static_cast<char>(value & 0xFF);
  return out;
}

}  // namespace

KVExecutor::KVExecutor(Storage* storage, bool sync, uint64_t quota_bytes, Stats* stats)
    : storage_(storage), sync_(sync), quota_bytes_(quota_bytes) {
  if (stats == nullptr) return;
  stats->GetGauge("kv_quota_bytes")->Set(static_cast<int64_t>(quota_bytes));
  used_gauge_ = stats->GetGauge("kv_used_bytes");
  absl::StatusOr<uint64_t> used = UsedBytes();
  if (used.ok()) used_gauge_->Set(static_cast<int64_t>(*used));
}

absl::StatusOr<uint64_t> KVExecutor::UsedBytes() {
  absl::StatusOr<std::string> stored = storage_->Get(kUsedBytesKey);
  if (absl::IsNotFound(stored.status())) return 0;
  if (!stored.ok()) return stored.status();
  if (stored->size() != 8) {
    return absl::DataLossError(
        absl::StrCat("kv used-bytes record has ", stored->size(), " bytes, expected 8"));
  }
  uint64_t used = 0;
  for (char c : *stored) used = (used << 8) | static_cast<unsigned char>(c);
  return used;
}

std::optional<KVResponse> KVExecutor::CheckQuota(uint64_t used, int64_t delta) const {
  if (quota_bytes_ == 0 || delta <= 0 || used + static_cast<uint64_t>(delta) <= quota_bytes_) {
    return std::nullopt;
  }
  return Failure(KVResponse::QUOTA_EXCEEDED,
                 absl::StrCat("storage quota of ", quota_bytes_, " bytes reached (", used,
                              " used, the write adds ", delta, "); reads and deletes still work"));
}

void KVExecutor::RecordUsed(uint64_t used, WriteBatch* batch) {
  batch->Put(kUsedBytesKey, EncodeCount(used));
  if (used_gauge_ != nullptr) used_gauge_->Set(static_cast<int64_t>(used));
}

std::unique_ptr<std::string> KVExecutor::ExecuteData(const std::string& request) {
  KVRequest kv_request;
  if (!kv_request.ParseFromString(request)) {
    return Serialize(Failure(KVResponse::INVALID, "payload is not a KVRequest"));
  }
  return Serialize(Execute(kv_request));
}

std::unique_ptr<std::string> KVExecutor::Query(const std::string& request) {
  KVRequest kv_request;
  if (!kv_request.ParseFromString(request)) {
    return Serialize(Failure(KVResponse::INVALID, "payload is not a KVRequest"));
  }
  return Serialize(ExecuteReadOnly(kv_request));
}

bool KVExecutor::IsReadOnly(const std::string& request) {
  KVRequest kv_request;
  return kv_request.ParseFromString(request) && IsReadOnlyCommand(kv_request.cmd());
}

KVResponse KVExecutor::ExecuteReadOnly(const KVRequest& request) {
  if (!IsReadOnlyCommand(request.cmd())) {
    return Failure(KVResponse::INVALID,
                   absl::StrCat("command ", KVRequest::CMD_Name(request.cmd()),
                                " changes state and cannot be served as a local read"));
  }
  return Execute(request);
}

KVResponse KVExecutor::Execute(const KVRequest& request) {
  switch (request.cmd()) {
    case KVRequest::SET:
      return Set(request);
    case KVRequest::GET:
      return Get(request);
    case KVRequest::DELETE:
      return Delete(request);
    case KVRequest::GETRANGE:
      return GetRange(request);
    case KVRequest::SET_WITH_VERSION:
      return SetWithVersion(request);
    case KVRequest::GET_WITH_VERSION:
      return GetWithVersion(request);
    case KVRequest::GET_HISTORY:
      return GetHistory(request);
    default:
      return Failure(KVResponse::INVALID,
                     absl::StrCat("unknown command ", static_cast<int>(request.cmd())));
  }
}

KVResponse KVExecutor::Set(const KVRequest& request) {
  if (absl::Status key = CheckKey(request.key()); !key.ok()) {
    return Failure(KVResponse::INVALID, key.message());
  }
  // The count is read and written on the ordered path only, so every replica keeps it alike.
  absl::StatusOr<uint64_t> used = UsedBytes();
  absl::StatusOr<int64_t> old_bytes = CurrentEntryBytes(storage_, request.key());
  if (!used.ok() || !old_bytes.ok()) {
    return WriteFailure(absl::StrCat("read key ", Quoted(request.key())),
                        used.ok() ? old_bytes.status() : used.status());
  }
  const int64_t delta = EntryBytes(request.key(), request.value()) - *old_bytes;
  if (std::optional<KVResponse> refused = CheckQuota(*used, delta)) return *refused;
  WriteBatch batch;
  batch.Put(request.key(), request.value());
  RecordUsed(Adjusted(*used, delta), &batch);
  if (absl::Status status = storage_->Write(batch, sync_); !status.ok()) {
    return WriteFailure(absl::StrCat("write key ", Quoted(request.key())), status);
  }
  KVResponse response;
  response.set_key(request.key());
  return response;
}

KVResponse KVExecutor::Get(const KVRequest& request) {
  if (absl::Status key = CheckKey(request.key()); !key.ok()) {
    return Failure(KVResponse::INVALID, key.message());
  }
  absl::StatusOr<std::string> value = storage_->Get(request.key());
  if (absl::IsNotFound(value.status())) {
    return Failure(KVResponse::NOT_FOUND,
                   absl::StrCat("key ", Quoted(request.key()), " does not exist"));
  }
  if (!value.ok()) return StorageFailure(value.status());
  KVResponse response;
  response.set_key(request.key());
  response.set_value(*std::move(value));
  return response;
}

KVResponse KVExecutor::Delete(const KVRequest& request) {
  if (absl::Status key = CheckKey(request.key()); !key.ok()) {
    return Failure(KVResponse::INVALID, key.message());
  }
  absl::StatusOr<uint64_t> used = UsedBytes();
  absl::StatusOr<int64_t> old_bytes = CurrentEntryBytes(storage_, request.key());
  if (!used.ok() || !old_bytes.ok()) {
    return WriteFailure(absl::StrCat("read key ", Quoted(request.key())),
                        used.ok() ? old_bytes.status() : used.status());
  }
  WriteBatch batch;
  batch.Delete(request.key());
  if (*old_bytes > 0) RecordUsed(Adjusted(*used, -*old_bytes), &batch);
  if (absl::Status status = storage_->Write(batch, sync_); !status.ok()) {
    return WriteFailure(absl::StrCat("delete key ", Quoted(request.key())), status);
  }
  KVResponse response;
  response.set_key(request.key());
  return response;
}

KVResponse KVExecutor::GetRange(const KVRequest& request) {
  const std::string& min_key = request.min_key();
  const std::string& max_key = request.max_key();
  KVResponse response;
  // Nothing a user can write lies at or above the reserved byte, or in an inverted range.
  if (!min_key.empty() && min_key[0] == kReservedByte) return response;
  if (!max_key.empty() && min_key > max_key) return response;

  // Scan's end is exclusive: max_key + '\0' is the smallest key above max_key, and user keys
  // end below "\xff".
  const std::string end = (max_key.empty() || max_key[0] == kReservedByte)
                              ? std::string(1, kReservedByte)
                              : max_key + std::string(1, '\0');
  ResultBuilder result(request.limit(), &response);
  absl::Status scanned = storage_->Scan(
      min_key, end,
      [&](absl::string_view key, absl::string_view value) { return result.Add(key, value, 0); });
  if (!scanned.ok()) return StorageFailure(scanned);
  return response;
}

KVResponse KVExecutor::SetWithVersion(const KVRequest& request) {
  const std::string& key = request.key();
  if (absl::Status checked = CheckKey(key); !checked.ok()) {
    return Failure(KVResponse::INVALID, checked.message());
  }
  // The write replaces the plain value, adds a kept version and, past kMaxVersionHistory
  // versions, drops the oldest one.
  absl::StatusOr<uint64_t> used = UsedBytes();
  absl::StatusOr<int64_t> old_bytes = CurrentEntryBytes(storage_, key);
  int64_t dropped_bytes = 0;
  absl::Status read = used.ok() ? old_bytes.status() : used.status();
  const uint64_t next = request.version() + 1;
  if (read.ok() && next > Storage::kMaxVersionHistory) {
    absl::StatusOr<VersionedValue> dropped =
        storage_->GetWithVersion(key, next - Storage::kMaxVersionHistory);
    if (dropped.ok()) {
      dropped_bytes = EntryBytes(key, dropped->value);
    } else if (!absl::IsNotFound(dropped.status())) {
      read = dropped.status();
    }
  }
  if (!read.ok()) return WriteFailure(absl::StrCat("read key ", Quoted(key)), read);
  const int64_t delta = 2 * EntryBytes(key, request.value()) - *old_bytes - dropped_bytes;
  if (std::optional<KVResponse> refused = CheckQuota(*used, delta)) {
    refused->set_key(key);
    return *refused;
  }
  absl::StatusOr<uint64_t> version =
      storage_->SetWithVersion(key, request.value(), request.version(), sync_);
  if (absl::IsFailedPrecondition(version.status())) {
    KVResponse response = Failure(KVResponse::VERSION_MISMATCH, version.status().message());
    response.set_key(key);
    absl::StatusOr<VersionedValue> current = storage_->GetWithVersion(key, 0);
    if (current.ok()) response.set_version(current->version);
    return response;
  }
  if (!version.ok()) return WriteFailure(absl::StrCat("write key ", Quoted(key)), version.status());
  WriteBatch count;
  RecordUsed(Adjusted(*used, delta), &count);
  if (absl::Status status = storage_->Write(count, sync_); !status.ok()) {
    return WriteFailure(absl::StrCat("count the write of key ", Quoted(key)), status);
  }
  KVResponse response;
  response.set_key(key);
  response.set_version(*version);
  return response;
}

KVResponse KVExecutor::GetWithVersion(const KVRequest& request) {
  if (absl::Status key = CheckKey(request.key()); !key.ok()) {
    return Failure(KVResponse::INVALID, key.message());
  }
  absl::StatusOr<VersionedValue> value = storage_->GetWithVersion(request.key(), request.version());
  if (!value.ok()) return StorageFailure(value.status());
  KVResponse response;
  response.set_key(request.key());
  response.set_value(std::move(value->value));
  response.set_version(value->version);
  return response;
}

KVResponse KVExecutor::GetHistory(const KVRequest& request) {
  if (absl::Status key = CheckKey(request.key()); !key.ok()) {
    return Failure(KVResponse::INVALID, key.message());
  }
  absl::StatusOr<std::vector<VersionedValue>> history =
      storage_->GetHistory(request.key(), request.version(), 0);
  if (!history.ok()) return StorageFailure(history.status());
  if (history->empty()) {
    return Failure(
        KVResponse::NOT_FOUND,
        absl::StrCat("key ", Quoted(request.key()), " has no versions",
                     request.version() > 0 ? absl::StrCat(" at or after ", request.version())
                                           : std::string()));
  }
  KVResponse response;
  response.set_key(request.key());
  ResultBuilder result(request.limit(), &response);
  for (const VersionedValue& entry : *history) {
    if (!result.Add(request.key(), entry.value, entry.version)) break;
  }
  return response;
}

}  // namespace resdb
