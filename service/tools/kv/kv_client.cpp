#include "service/tools/kv/kv_client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "platform/proto/resdb.pb.h"
#include "platform/proto/service.grpc.pb.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;

// Used when a config built in code sets no client timeout.
constexpr int kFallbackTimeoutMs = 5000;
constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 1000;
// Pause after a full round of replicas failed, doubling up to the maximum.
constexpr std::chrono::milliseconds kInitialRoundBackoff(50);
constexpr std::chrono::milliseconds kMaxRoundBackoff(1000);

std::string AddressOf(const ReplicaInfo& replica) {
  // IPv6 literals need brackets in a gRPC target.
  if (replica.ip().find(':') != std::string::npos) {
    return absl::StrCat("[", replica.ip(), "]:", replica.port());
  }
  return absl::StrCat(replica.ip(), ":", replica.port());
}

bool IsRead(KVRequest::CMD cmd) {
  return cmd == KVRequest::GET || cmd == KVRequest::GETRANGE ||
         cmd == KVRequest::GET_WITH_VERSION || cmd == KVRequest::GET_HISTORY;
}

uint64_t RandomClientId() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device());
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

std::string LeaderName(int64_t leader_id) {
  return leader_id == 0 ? std::string("none") : absl::StrCat(leader_id);
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
    default:
      return absl::InternalError(absl::StrCat("kv service error: ", response.error()));
  }
}

}  // namespace

class KVClient::Impl {
 public:
  explicit Impl(const ResDBConfig& config)
      : infos_(config.GetReplicaInfos()),
        config_timeout_ms_(config.GetClientTimeoutMs() > 0 ? config.GetClientTimeoutMs()
                                                           : kFallbackTimeoutMs),
        client_id_(RandomClientId()),
        timeout_ms_(config_timeout_ms_) {
    const int64_t max_bytes = config.GetMaxMessageBytes();
    // -1 lifts gRPC's limit; a loaded config always sets one.
    max_message_bytes_ =
        max_bytes > 0 ? static_cast<int>(std::min<int64_t>(max_bytes, INT_MAX)) : -1;
    for (const ReplicaInfo& info : infos_) addresses_.push_back(AddressOf(info));
    stubs_.resize(infos_.size());
  }

  absl::StatusOr<KVResponse> Execute(const KVRequest& kv_request);

  void SetConsistency(const std::string& consistency) {
    std::lock_guard<std::mutex> lock(mu_);
    consistency_ = consistency;
  }
  void SetTimeoutMs(int timeout_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    timeout_ms_ = timeout_ms > 0 ? timeout_ms : config_timeout_ms_;
  }
  uint64_t client_id() const { return client_id_; }
  int64_t leader_id() const {
    std::lock_guard<std::mutex> lock(mu_);
    return leader_id_;
  }

 private:
  ResDBService::Stub* StubFor(size_t index);
  // Index of the replica with `id`, or -1.
  int IndexOf(int64_t id) const;
  std::string Describe(size_t index) const {
    return absl::StrCat("replica ", infos_[index].id(), " at ", addresses_[index]);
  }

  const std::vector<ReplicaInfo> infos_;
  std::vector<std::string> addresses_;
  const int config_timeout_ms_;
  int max_message_bytes_;
  const uint64_t client_id_;
  std::atomic<uint64_t> next_request_id_{1};

  mutable std::mutex mu_;
  int timeout_ms_;
  std::string consistency_;
  // Created on first use; a stub owns its channel.
  std::vector<std::unique_ptr<ResDBService::Stub>> stubs_;
  // Where the next call starts, and the replica last reported as leader (0: unknown).
  size_t start_index_ = 0;
  int64_t leader_id_ = 0;
};

ResDBService::Stub* KVClient::Impl::StubFor(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<ResDBService::Stub>& stub = stubs_[index];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(max_message_bytes_);
    args.SetMaxSendMessageSize(max_message_bytes_);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
    stub = ResDBService::NewStub(
        grpc::CreateCustomChannel(addresses_[index], grpc::InsecureChannelCredentials(), args));
  }
  return stub.get();
}

int KVClient::Impl::IndexOf(int64_t id) const {
  for (size_t i = 0; i < infos_.size(); ++i) {
    if (infos_[i].id() == id) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<KVResponse> KVClient::Impl::Execute(const KVRequest& kv_request) {
  const size_t n = infos_.size();
  if (n == 0) return absl::FailedPreconditionError("the client config lists no replicas");

  Request request;
  request.set_type(Request::TYPE_CLIENT_REQUEST);
  request.set_client_id(client_id_);
  request.set_request_id(next_request_id_.fetch_add(1));
  kv_request.SerializeToString(request.mutable_data());
  int timeout_ms;
  size_t index;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timeout_ms = timeout_ms_;
    index = start_index_;
    if (IsRead(kv_request.cmd()) && !consistency_.empty()) request.set_consistency(consistency_);
  }
  ResDBMessage envelope;
  request.SerializeToString(envelope.mutable_data());

  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::chrono::milliseconds backoff = kInitialRoundBackoff;
  absl::Status last_error;
  size_t tried_in_round = 0;
  while (true) {
    const Clock::duration remaining = deadline - Clock::now();
    if (remaining <= Clock::duration::zero()) break;

    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + remaining);
    Response response;
    const grpc::Status rpc = StubFor(index)->Call(&context, envelope, &response);
    size_t next = (index + 1) % n;
    if (!rpc.ok()) {
      if (rpc.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        return absl::DeadlineExceededError(absl::StrCat(
            "no answer within the ", timeout_ms, " ms client timeout from ", Describe(index)));
      }
      last_error = absl::UnavailableError(
          absl::StrCat(Describe(index), " is unreachable: ", rpc.error_message()));
      std::lock_guard<std::mutex> lock(mu_);
      if (start_index_ == index) start_index_ = next;
    } else {
      const int64_t id = infos_[index].id();
      switch (response.status()) {
        case Response::OK: {
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (response.leader_id() != 0) leader_id_ = response.leader_id();
            const int leader = IndexOf(leader_id_);
            start_index_ = leader >= 0 ? static_cast<size_t>(leader) : index;
          }
          KVResponse kv_response;
          if (!kv_response.ParseFromString(response.data())) {
            return absl::InternalError(
                absl::StrCat(Describe(index), " answered with data that is not a KVResponse"));
          }
          return kv_response;
        }
        case Response::NO_LEADER: {
          int64_t leader;
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (response.leader_id() != 0) leader_id_ = response.leader_id();
            leader = leader_id_;
            const int hint = IndexOf(response.leader_id());
            if (hint >= 0 && static_cast<size_t>(hint) != index) next = hint;
            start_index_ = next;
          }
          last_error = absl::UnavailableError(absl::StrCat(
              "no leader: ", Describe(index), " knows no leader",
              response.error().empty() ? "" : absl::StrCat(" (", response.error(), ")"),
              "; last known leader: ", LeaderName(leader)));
          break;
        }
        case Response::UNAVAILABLE:
          last_error = absl::UnavailableError(
              absl::StrCat(Describe(index), " is unavailable: ", response.error()));
          break;
        case Response::TIMEOUT:
          return absl::DeadlineExceededError(
              absl::StrCat(Describe(index), " timed out the request (client timeout ", timeout_ms,
                           " ms)", response.error().empty() ? "" : ": ", response.error()));
        case Response::INVALID_REQUEST:
          return absl::InvalidArgumentError(
              absl::StrCat("replica ", id, " rejected the request: ", response.error()));
        case Response::UNIMPLEMENTED:
          return absl::UnimplementedError(
              response.error().empty()
                  ? absl::StrCat("replica ", id, " does not support the request")
                  : response.error());
        default:
          return absl::InternalError(absl::StrCat("replica ", id, " failed (",
                                                  Response::Status_Name(response.status()),
                                                  "): ", response.error()));
      }
    }
    index = next;
    // Every replica failed once in this round: pause before the next one.
    if (++tried_in_round >= n) {
      tried_in_round = 0;
      const Clock::duration left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) break;
      std::this_thread::sleep_for(std::min<Clock::duration>(backoff, left));
      backoff = std::min(backoff * 2, kMaxRoundBackoff);
    }
  }
  // Out of time. A replica's own explanation says more than the expired deadline does.
  if (!last_error.ok()) {
    return absl::Status(last_error.code(),
                        absl::StrCat(last_error.message(), " (gave up after the ", timeout_ms,
                                     " ms client timeout)"));
  }
  return absl::DeadlineExceededError(absl::StrCat("no answer within the ", timeout_ms,
                                                  " ms client timeout (last tried ",
                                                  Describe(index), ")"));
}

KVClient::KVClient(const ResDBConfig& config) : impl_(std::make_unique<Impl>(config)) {}

KVClient::~KVClient() = default;

absl::StatusOr<KVResponse> KVClient::Execute(const KVRequest& request) {
  return impl_->Execute(request);
}

void KVClient::SetConsistency(const std::string& consistency) {
  impl_->SetConsistency(consistency);
}

void KVClient::SetTimeoutMs(int timeout_ms) { impl_->SetTimeoutMs(timeout_ms); }

uint64_t KVClient::GetClientId() const { return impl_->client_id(); }

int64_t KVClient::GetLastKnownLeader() const { return impl_->leader_id(); }

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
  absl::StatusOr<KVResponse> response = Run(*this, request);
  if (!response.ok()) return response.status();
  std::vector<std::pair<std::string, std::string>> items;
  for (KVItem& item : *response->mutable_items()) {
    items.emplace_back(std::move(*item.mutable_key()), std::move(*item.mutable_value()));
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
