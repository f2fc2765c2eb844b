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

}  // namespace

KVExecutor::KVExecutor(Storage* storage, bool sync) : storage_(storage), sync_(sync) {}

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
  if (absl::Status status = storage_->Put(request.key(), request.value(), sync_); !status.ok()) {
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
  if (absl::Status status = storage_->Delete(request.key(), sync_); !status.ok()) {
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
  if (absl::Status key = CheckKey(request.key()); !key.ok()) {
    return Failure(KVResponse::INVALID, key.message());
  }
  absl::StatusOr<uint64_t> version =
      storage_->SetWithVersion(request.key(), request.value(), request.version(), sync_);
  if (absl::IsFailedPrecondition(version.status())) {
    KVResponse response = Failure(KVResponse::VERSION_MISMATCH, version.status().message());
    response.set_key(request.key());
    absl::StatusOr<VersionedValue> current = storage_->GetWithVersion(request.key(), 0);
    if (current.ok()) response.set_version(current->version);
    return response;
  }
  if (!version.ok()) {
    return WriteFailure(absl::StrCat("write key ", Quoted(request.key())), version.status());
  }
  KVResponse response;
  response.set_key(request.key());
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
