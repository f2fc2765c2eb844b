#include "interface/kv/kv_client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "platform/common/crypto/client_identity.h"
#include "platform/networkstrate/tls_credentials.h"
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
// PBFT: how long the first f+1 replicas of a call have to agree before the others are asked
// too, as a multiple of the smoothed latency of settled calls, within bounds.
constexpr int kWidenAfterLatencies = 3;
constexpr std::chrono::milliseconds kMinWidenDelay(20);
constexpr std::chrono::milliseconds kMaxWidenDelay(500);

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

// A PBFT client's identity, made on first use: PBFT replicas take only requests their client
// signed. Null only if no key could be made (the replicas then refuse the requests, saying why).
std::unique_ptr<ClientIdentity> NewIdentity() {
  absl::StatusOr<std::unique_ptr<ClientIdentity>> identity = ClientIdentity::Generate();
  if (!identity.ok()) return nullptr;
  return *std::move(identity);
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
    case KVResponse::QUOTA_EXCEEDED:
      return absl::ResourceExhaustedError(response.error());
    default:
      return absl::InternalError(absl::StrCat("kv service error: ", response.error()));
  }
}

// PBFT: answers with these statuses are a replica's verdict on the request and count as votes;
// the others (NO_LEADER, UNAVAILABLE, TIMEOUT) only say "not now" and are asked again.
bool IsVerdict(Response::Status status) {
  return status == Response::OK || status == Response::INVALID_REQUEST ||
         status == Response::UNIMPLEMENTED || status == Response::INTERNAL;
}

// Two verdicts agree when they carry the same result. replica_id, leader_id and seq differ
// between correct replicas, and so may the wording of an error.
bool SameResult(const Response& a, const Response& b) {
  return a.status() == b.status() && a.data() == b.data();
}

// The value that occurs most often in `values`; of equally common ones, the first.
template <typename T>
T MostCommon(const std::vector<T>& values) {
  std::map<T, int> counts;
  T best{};
  int best_count = 0;
  for (const T& value : values) {
    if (++counts[value] > best_count) {
      best_count = counts[value];
      best = value;
    }
  }
  return best;
}

std::chrono::system_clock::time_point ToSystemClock(Clock::time_point when) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(when - Clock::now());
}

// One Call to one replica in flight on a call's completion queue; its address is the tag.
struct PendingCall {
  size_t replica = 0;
  grpc::ClientContext context;
  Response response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
};

}  // namespace

class KVClient::Impl {
 public:
  explicit Impl(const ResDBConfig& config)
      : infos_(config.GetReplicaInfos()),
        config_timeout_ms_(config.GetClientTimeoutMs() > 0 ? config.GetClientTimeoutMs()
                                                           : kFallbackTimeoutMs),
        identity_(config.GetConsensusProtocol() == kProtocolPbft ? NewIdentity() : nullptr),
        client_id_(identity_ != nullptr ? identity_->client_id() : RandomClientId()),
        quorum_(config.GetConsensusProtocol() == kProtocolPbft
                    ? config.GetMaxMaliciousReplicaNum() + 1
                    : 0),
        timeout_ms_(config_timeout_ms_) {
    const int64_t max_bytes = config.GetMaxMessageBytes();
    // -1 lifts gRPC's limit; a loaded config always sets one.
    max_message_bytes_ =
        max_bytes > 0 ? static_cast<int>(std::min<int64_t>(max_bytes, INT_MAX)) : -1;
    for (const ReplicaInfo& info : infos_) addresses_.push_back(AddressOf(info));
    auto credentials = MakeChannelCredentials(config);
    if (credentials.ok()) {
      credentials_ = *std::move(credentials);
    } else {
      credentials_status_ = credentials.status();
    }
    tls_ = config.UsesTls();
    stubs_.resize(infos_.size());
    channels_.resize(infos_.size());
    suspect_.resize(infos_.size(), false);
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
  // RAFT: one replica at a time, following leader hints.
  absl::StatusOr<KVResponse> ExecuteOnOne(const ResDBMessage& envelope, int timeout_ms,
                                          size_t index, Clock::time_point deadline);
  // PBFT: f+1 replicas first, every replica if they do not agree soon; the first result f+1
  // replicas agree on.
  absl::StatusOr<KVResponse> ExecuteOnQuorum(const ResDBMessage& envelope, int timeout_ms,
                                             uint64_t request_id, Clock::time_point deadline);
  // PBFT: the replicas a call asks first: the primary and others in rotation by
  // `request_id`, those that recently failed to agree last.
  std::vector<size_t> FirstRound(uint64_t request_id) const;
  // Records how a call that asked `first` first was settled.
  void LearnFromCall(const std::vector<size_t>& first, const std::vector<bool>& agreed,
                     bool settled_by_first, Clock::duration latency);
  // The outcome of a call on which `members` (replica id, answer) gave the same verdict.
  absl::StatusOr<KVResponse> Decide(
      const std::vector<std::pair<int64_t, const Response*>>& members);

  ResDBService::Stub* StubFor(size_t index);
  // Waits `pause` between two rounds of attempts while the channels connect; returns early
  // once every channel that was connecting is ready.
  void PauseWhileConnecting(Clock::duration pause);
  // Index of the replica with `id`, or -1.
  int IndexOf(int64_t id) const;
  std::string Describe(size_t index) const {
    return absl::StrCat("replica ", infos_[index].id(), " at ", addresses_[index]);
  }

  const std::vector<ReplicaInfo> infos_;
  std::vector<std::string> addresses_;
  // What every channel is made with; when the TLS files could not be read, null and every
  // call fails with credentials_status_.
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Status credentials_status_;
  bool tls_ = false;
  const int config_timeout_ms_;
  int max_message_bytes_;
  // PBFT: the key every request is signed with; the client id is derived from it.
  const std::unique_ptr<ClientIdentity> identity_;
  const uint64_t client_id_;
  // PBFT: matching verdicts that settle a call (f+1: at least one from a correct replica).
  // 0 for RAFT, which trusts the one replica it asks.
  const int quorum_;
  std::atomic<uint64_t> next_request_id_{1};

  mutable std::mutex mu_;
  int timeout_ms_;
  std::string consistency_;
  // Created on first use; a stub owns its channel.
  std::vector<std::unique_ptr<ResDBService::Stub>> stubs_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  // Where the next call starts, and the replica last reported as leader (0: unknown).
  size_t start_index_ = 0;
  int64_t leader_id_ = 0;
  // PBFT: replicas that were asked first and did not agree in time (asked first again only
  // when there are not enough others), and the smoothed latency of settled calls.
  std::vector<bool> suspect_;
  Clock::duration settled_latency_ = std::chrono::milliseconds(10);
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
    if (tls_) args.SetSslTargetNameOverride(ReplicaIdentity(infos_[index].id()));
    channels_[index] = grpc::CreateCustomChannel(addresses_[index], credentials_, args);
    stub = ResDBService::NewStub(channels_[index]);
  }
  return stub.get();
}

void KVClient::Impl::PauseWhileConnecting(Clock::duration pause) {
  // A channel reconnects in the background, and its TLS handshake advances only while some
  // thread polls it (else only at gRPC's backup poll, every few seconds, which can outlast
  // the handshake's deadline): poll the channels that are not ready instead of sleeping.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    channels = channels_;
  }
  const auto deadline = std::chrono::system_clock::now() + pause;
  grpc::CompletionQueue queue;
  int pending = 0;
  for (size_t i = 0; i < channels.size(); ++i) {
    if (channels[i] == nullptr) continue;
    const grpc_connectivity_state state = channels[i]->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) continue;
    channels[i]->NotifyOnStateChange(state, deadline, &queue, reinterpret_cast<void*>(i));
    ++pending;
  }
  if (pending == 0) {
    std::this_thread::sleep_for(pause);
    return;
  }
  void* tag = nullptr;
  bool changed = false;
  while (pending > 0 && queue.Next(&tag, &changed)) {
    --pending;
    const size_t i = reinterpret_cast<size_t>(tag);
    const grpc_connectivity_state state = channels[i]->GetState(/*try_to_connect=*/true);
    // A notification past the deadline reports no change; one that came earlier is renewed.
    if (changed && state != GRPC_CHANNEL_READY && std::chrono::system_clock::now() < deadline) {
      channels[i]->NotifyOnStateChange(state, deadline, &queue, tag);
      ++pending;
    }
  }
  queue.Shutdown();
  while (queue.Next(&tag, &changed)) {
  }
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
  if (!credentials_status_.ok()) return credentials_status_;

  Request request;
  request.set_type(Request::TYPE_CLIENT_REQUEST);
  request.set_client_id(client_id_);
  request.set_request_id(next_request_id_.fetch_add(1));
  kv_request.SerializeToString(request.mutable_data());
  if (identity_ != nullptr) {
    request.set_client_public_key(identity_->public_key());
    request.set_client_signature(identity_->Sign(request.request_id(), request.data()));
  }
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
  if (quorum_ > 0) return ExecuteOnQuorum(envelope, timeout_ms, request.request_id(), deadline);
  return ExecuteOnOne(envelope, timeout_ms, index, deadline);
}

absl::StatusOr<KVResponse> KVClient::Impl::ExecuteOnOne(const ResDBMessage& envelope,
                                                        int timeout_ms, size_t index,
                                                        Clock::time_point deadline) {
  const size_t n = infos_.size();
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
        // An attempt started just before the deadline says nothing new: what the earlier ones
        // answered ("no leader", ...) is the better reason.
        if (!last_error.ok()) break;
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
        case Response::PERMISSION_DENIED:
          return absl::PermissionDeniedError(
              absl::StrCat("replica ", id, " refused the request: ", response.error()));
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
      PauseWhileConnecting(std::min<Clock::duration>(backoff, left));
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

std::vector<size_t> KVClient::Impl::FirstRound(uint64_t request_id) const {
  const size_t n = infos_.size();
  std::lock_guard<std::mutex> lock(mu_);
  // The primary is always asked: it is the one that orders the request.
  std::vector<size_t> order;
  const int primary = IndexOf(leader_id_);
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (request_id + k) % n;
    if (static_cast<int>(i) != primary) order.push_back(i);
  }
  std::stable_partition(order.begin(), order.end(), [this](size_t i) { return !suspect_[i]; });
  if (primary >= 0) order.insert(order.begin(), static_cast<size_t>(primary));
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(quorum_)));
  return order;
}

void KVClient::Impl::LearnFromCall(const std::vector<size_t>& first,
                                   const std::vector<bool>& agreed, bool settled_by_first,
                                   Clock::duration latency) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < agreed.size(); ++i) {
    if (agreed[i]) suspect_[i] = false;
  }
  for (size_t i : first) {
    if (!agreed[i]) suspect_[i] = true;
  }
  // A widened call may have waited for the widening itself, so it only counts when slower:
  // under load every call is slow, and widening them all would double the work.
  if (settled_by_first || latency > settled_latency_) {
    settled_latency_ = (settled_latency_ * 7 + latency) / 8;
  }
}

absl::StatusOr<KVResponse> KVClient::Impl::ExecuteOnQuorum(const ResDBMessage& envelope,
                                                           int timeout_ms, uint64_t request_id,
                                                           Clock::time_point deadline) {
  const size_t n = infos_.size();
  const Clock::time_point start = Clock::now();
  // What the call knows of each replica.
  struct Replica {
    // Non-null while a Call to the replica is in flight.
    std::unique_ptr<PendingCall> call;
    // Its latest verdict on the request.
    std::optional<Response> verdict;
    // Why its last Call brought no verdict; empty if none failed.
    std::string failure;
    // When to send to it next if no Call is in flight; max(): not planned.
    Clock::time_point send_at = Clock::time_point::min();
    std::chrono::milliseconds backoff = kInitialRoundBackoff;
  };
  std::vector<Replica> replicas(n);
  // The first f+1 replicas alone settle a call when they agree, which halves the calls and
  // replies of a healthy cluster (PBFT section 4.1: the client asks every replica only when
  // the first answers do not come). The others are asked once one of the first fails or
  // disagrees, or after a few typical call latencies.
  const std::vector<size_t> first = FirstRound(request_id);
  Clock::duration widen_delay;
  {
    std::lock_guard<std::mutex> lock(mu_);
    widen_delay = std::clamp<Clock::duration>(settled_latency_ * kWidenAfterLatencies,
                                              kMinWidenDelay, kMaxWidenDelay);
  }
  bool widened = first.size() >= n;
  for (Replica& replica : replicas) replica.send_at = start + widen_delay;
  for (size_t i : first) replicas[i].send_at = Clock::time_point::min();
  auto widen = [&] {
    if (widened) return;
    widened = true;
    for (Replica& replica : replicas) {
      if (replica.call == nullptr && !replica.verdict.has_value() && replica.failure.empty()) {
        replica.send_at = Clock::time_point::min();
      }
    }
  };
  size_t in_flight = 0;
  std::chrono::milliseconds round_backoff = kInitialRoundBackoff;
  grpc::CompletionQueue queue;
  std::optional<absl::StatusOr<KVResponse>> result;

  while (!result.has_value()) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) break;
    if (now >= start + widen_delay) widen();
    for (size_t i = 0; i < n; ++i) {
      Replica& replica = replicas[i];
      if (replica.call != nullptr || replica.send_at > now) continue;
      // Every send carries the same envelope, so the same client_id / request_id: replicas
      // execute the request once however often it arrives.
      auto call = std::make_unique<PendingCall>();
      call->replica = i;
      call->context.set_deadline(ToSystemClock(deadline));
      call->reader = StubFor(i)->AsyncCall(&call->context, envelope, &queue);
      call->reader->Finish(&call->response, &call->status, call.get());
      replica.call = std::move(call);
      replica.send_at = Clock::time_point::max();
      ++in_flight;
    }
    Clock::time_point wake = deadline;
    for (const Replica& replica : replicas) wake = std::min(wake, replica.send_at);
    if (in_flight == 0 && !widened) {
      widen();
      continue;
    }
    if (in_flight == 0 && wake == deadline) {
      // Every replica gave a verdict and no f+1 of them agree. Correct replicas do not change
      // their answer, but a lagging or restarted one may: ask them all again after a pause.
      const Clock::time_point again = now + round_backoff;
      round_backoff = std::min(round_backoff * 2, kMaxRoundBackoff);
      for (Replica& replica : replicas) replica.send_at = again;
      continue;
    }

    void* tag = nullptr;
    bool ok = false;
    if (queue.AsyncNext(&tag, &ok, ToSystemClock(wake)) != grpc::CompletionQueue::GOT_EVENT) {
      continue;
    }
    std::unique_ptr<PendingCall> call =
        std::move(replicas[static_cast<PendingCall*>(tag)->replica].call);
    --in_flight;
    const size_t index = call->replica;
    Replica& replica = replicas[index];
    const Response& response = call->response;
    if (!ok || !call->status.ok() || !IsVerdict(response.status())) {
      if (!ok || !call->status.ok()) {
        replica.failure = call->status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                              ? "no answer"
                              : absl::StrCat("unreachable: ", call->status.error_message());
      } else {
        replica.failure = absl::StrCat("answered ", Response::Status_Name(response.status()),
                                       response.error().empty() ? "" : ": ", response.error());
      }
      replica.send_at = Clock::now() + replica.backoff;
      replica.backoff = std::min(replica.backoff * 2, kMaxRoundBackoff);
      widen();
      continue;
    }
    replica.verdict = response;
    replica.failure.clear();
    // Only the new verdict can complete a quorum: count the verdicts that agree with it.
    std::vector<std::pair<int64_t, const Response*>> members;
    for (size_t i = 0; i < n; ++i) {
      const Replica& other = replicas[i];
      if (other.verdict.has_value() && SameResult(*other.verdict, *replica.verdict)) {
        members.emplace_back(infos_[i].id(), &*other.verdict);
      }
    }
    if (static_cast<int>(members.size()) >= quorum_) {
      result = Decide(members);
      std::vector<bool> agreed(n, false);
      for (size_t i = 0; i < n; ++i) {
        agreed[i] =
            replicas[i].verdict.has_value() && SameResult(*replicas[i].verdict, *replica.verdict);
      }
      LearnFromCall(first, agreed, !widened, Clock::now() - start);
    } else {
      // Two answers that differ: the first replicas alone cannot settle the call.
      for (const Replica& other : replicas) {
        if (other.verdict.has_value() && !SameResult(*other.verdict, *replica.verdict)) widen();
      }
    }
  }

  // Decided or out of time: nobody waits for the other answers any more.
  for (Replica& replica : replicas) {
    if (replica.call != nullptr) replica.call->context.TryCancel();
  }
  while (in_flight > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!queue.Next(&tag, &ok)) break;
    replicas[static_cast<PendingCall*>(tag)->replica].call.reset();
    --in_flight;
  }
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
  if (result.has_value()) return *std::move(result);

  size_t best = 0;
  std::vector<std::string> silent;
  for (size_t i = 0; i < n; ++i) {
    const Replica& replica = replicas[i];
    if (replica.verdict.has_value()) {
      size_t matching = 0;
      for (const Replica& other : replicas) {
        matching += other.verdict.has_value() && SameResult(*other.verdict, *replica.verdict);
      }
      best = std::max(best, matching);
    } else {
      silent.push_back(
          absl::StrCat(Describe(i), ": ", replica.failure.empty() ? "no answer" : replica.failure));
    }
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no result confirmed by ", quorum_, " of ", n, " replicas within ", timeout_ms,
                   " ms; best: ", best, " matching", silent.empty() ? "" : " (",
                   absl::StrJoin(silent, "; "), silent.empty() ? "" : ")"));
}

absl::StatusOr<KVResponse> KVClient::Impl::Decide(
    const std::vector<std::pair<int64_t, const Response*>>& members) {
  const Response& verdict = *members.front().second;
  std::vector<int64_t> ids;
  std::vector<int64_t> leaders;
  std::vector<std::string> errors;
  for (const auto& [id, member] : members) {
    ids.push_back(id);
    if (member->leader_id() != 0) leaders.push_back(member->leader_id());
    errors.push_back(member->error());
  }
  // A faulty replica can name any primary or word its error any way; take what most of the
  // agreeing replicas say.
  if (!leaders.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    leader_id_ = MostCommon(leaders);
  }
  const std::string error = MostCommon(errors);
  const std::string who =
      absl::StrCat(ids.size() == 1 ? "replica " : "replicas ", absl::StrJoin(ids, ", "));
  switch (verdict.status()) {
    case Response::OK: {
      KVResponse kv_response;
      if (!kv_response.ParseFromString(verdict.data())) {
        return absl::InternalError(
            absl::StrCat(who, " answered with data that is not a KVResponse"));
      }
      return kv_response;
    }
    case Response::INVALID_REQUEST:
      return absl::InvalidArgumentError(absl::StrCat(who, " rejected the request: ", error));
    case Response::UNIMPLEMENTED:
      return absl::UnimplementedError(
          error.empty()
              ? absl::StrCat(who, ids.size() == 1 ? " does" : " do", " not support the request")
              : error);
    default:
      return absl::InternalError(
          absl::StrCat(who, " failed (", Response::Status_Name(verdict.status()), "): ", error));
  }
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
