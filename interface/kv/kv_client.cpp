#include "interface/kv/kv_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "interface/client/caller_factory.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace {

// Used when a config built in code sets no client timeout.
constexpr int kFallbackTimeoutMs = 5000;

bool IsRead(KVRequest::CMD cmd) {
  return cmd == KVRequest::GET || cmd == KVRequest::GETRANGE ||
         cmd == KVRequest::GET_WITH_VERSION || cmd == KVRequest::GET_HISTORY;
}

// The error a KV service status stands for; OK for KVResponse::OK.
absl::Status ServiceStatus(const KVResponse& response) {
  switch (response.status()) {
    case KVResponse::OK:
      return absl::OkStatus();
    case KVResponse::NOT_FOUND:
      return absl::NotFoundError(response.error());
    case KVResponse::VERSION_MISMATCH:
      return absl::FailedPreconditionError(
          response.error().empty()
              ? absl::StrCat("version mismatch; current version ", response.version())
              : response.error());
    case KVResponse::INVALID:
      return absl::InvalidArgumentError(response.error());
    case KVResponse::QUOTA_EXCEEDED:
      return absl::ResourceExhaustedError(response.error());
    default:
      return absl::InternalError(absl::StrCat("kv service error: ", response.error()));
  }
}

}  // namespace

KVClient::KVClient(const ResDBConfig& config)
    : caller_(NewReplicaCaller(config)),
      config_timeout_ms_(config.GetClientTimeoutMs() > 0 ? config.GetClientTimeoutMs()
                                                         : kFallbackTimeoutMs),
      timeout_ms_(config_timeout_ms_) {}

KVClient::~KVClient() = default;

absl::StatusOr<KVResponse> KVClient::Execute(const KVRequest& kv_request) {
  Request request;
  request.set_type(Request::TYPE_CLIENT_REQUEST);
  request.set_client_id(caller_->client_id());
  request.set_request_id(next_request_id_.fetch_add(1));
  kv_request.SerializeToString(request.mutable_data());
  int timeout_ms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timeout_ms = timeout_ms_;
    if (IsRead(kv_request.cmd()) && !consistency_.empty()) request.set_consistency(consistency_);
  }
  absl::StatusOr<ReplicaAnswer> answer = caller_->Call(std::move(request), timeout_ms);
  if (!answer.ok()) return answer.status();
  KVResponse kv_response;
  if (!kv_response.ParseFromString(answer->data)) {
    return absl::InternalError(
        absl::StrCat(answer->from, " answered with data that is not a KVResponse"));
  }
  return kv_response;
}

void KVClient::SetConsistency(const std::string& consistency) {
  std::lock_guard<std::mutex> lock(mu_);
  consistency_ = consistency;
}

void KVClient::SetTimeoutMs(int timeout_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  timeout_ms_ = timeout_ms > 0 ? timeout_ms : config_timeout_ms_;
}

uint64_t KVClient::GetClientId() const { return caller_->client_id(); }

int64_t KVClient::GetLastKnownLeader() const { return caller_->leader_id(); }

namespace {

// Sends `request` and turns a non-OK service status into the matching error.
absl::StatusOr<KVResponse> Run(KVClient& client, const KVRequest& request) {
  absl::StatusOr<KVResponse> response = client.Execute(request);
  if (!response.ok()) return response.status();
  if (absl::Status status = ServiceStatus(*response); !status.ok()) return status;
  return response;
}

KVRequest MakeRequest(KVRequest::CMD cmd, const std::string& key) {
  KVRequest request;
  request.set_cmd(cmd);
  request.set_key(key);
  return request;
}

}  // namespace

absl::Status KVClient::Set(const std::string& key, const std::string& value) {
  KVRequest request = MakeRequest(KVRequest::SET, key);
  request.set_value(value);
  return Run(*this, request).status();
}

absl::StatusOr<std::string> KVClient::Get(const std::string& key) {
  absl::StatusOr<KVResponse> response = Run(*this, MakeRequest(KVRequest::GET, key));
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_value());
}

absl::Status KVClient::Delete(const std::string& key) {
  return Run(*this, MakeRequest(KVRequest::DELETE, key)).status();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> KVClient::GetRange(
    const std::string& min_key, const std::string& max_key) {
  KVRequest request;
  request.set_cmd(KVRequest::GETRANGE);
  request.set_min_key(min_key);
  request.set_max_key(max_key);
  std::vector<std::pair<std::string, std::string>> items;
  // A result the service's byte cap cut short goes on from just past its last key, up to as
  // many items as one request returns when its values are small.
  while (items.size() < kRangeItems) {
    request.set_limit(static_cast<uint32_t>(kRangeItems - items.size()));
    absl::StatusOr<KVResponse> response = Run(*this, request);
    if (!response.ok()) return response.status();
    for (KVItem& item : *response->mutable_items()) {
      items.emplace_back(std::move(*item.mutable_key()), std::move(*item.mutable_value()));
    }
    if (!response->truncated() || response->items_size() == 0) break;
    request.set_min_key(items.back().first + '\0');
  }
  return items;
}

absl::StatusOr<uint64_t> KVClient::SetWithVersion(const std::string& key, const std::string& value,
                                                  uint64_t expected_version) {
  KVRequest request = MakeRequest(KVRequest::SET_WITH_VERSION, key);
  request.set_value(value);
  request.set_version(expected_version);
  absl::StatusOr<KVResponse> response = Run(*this, request);
  if (!response.ok()) return response.status();
  return response->version();
}

absl::StatusOr<KVClient::VersionedValue> KVClient::GetWithVersion(const std::string& key,
                                                                  uint64_t version) {
  KVRequest request = MakeRequest(KVRequest::GET_WITH_VERSION, key);
  request.set_version(version);
  absl::StatusOr<KVResponse> response = Run(*this, request);
  if (!response.ok()) return response.status();
  return VersionedValue{std::move(*response->mutable_value()), response->version()};
}

absl::StatusOr<std::vector<KVClient::VersionedValue>> KVClient::GetHistory(const std::string& key,
                                                                           uint64_t min_version) {
  KVRequest request = MakeRequest(KVRequest::GET_HISTORY, key);
  request.set_version(min_version);
  absl::StatusOr<KVResponse> response = Run(*this, request);
  if (!response.ok()) return response.status();
  std::vector<VersionedValue> history;
  for (KVItem& item : *response->mutable_items()) {
    history.push_back(VersionedValue{std::move(*item.mutable_value()), item.version()});
  }
  return history;
}

}  // namespace resdb
