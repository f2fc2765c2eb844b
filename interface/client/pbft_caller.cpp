#include "interface/client/pbft_caller.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "interface/client/random_client_id.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;

// Pause before asking again replicas that failed or all disagreed, doubling up to the
// maximum.
constexpr std::chrono::milliseconds kInitialRoundBackoff(50);
constexpr std::chrono::milliseconds kMaxRoundBackoff(1000);
// How long the first f+1 replicas of a call have to agree before the others are asked too,
// as a multiple of the smoothed latency of settled calls, within bounds.
constexpr int kWidenAfterLatencies = 3;
constexpr std::chrono::milliseconds kMinWidenDelay(20);
constexpr std::chrono::milliseconds kMaxWidenDelay(500);

// A PBFT client's identity, made on first use: PBFT replicas take only requests their client
// signed. Null only if no key could be made (the replicas then refuse the requests, saying why).
std::unique_ptr<ClientIdentity> NewIdentity() {
  absl::StatusOr<std::unique_ptr<ClientIdentity>> identity = ClientIdentity::Generate();
  if (!identity.ok()) return nullptr;
  return *std::move(identity);
}

// Answers with these statuses are a replica's verdict on the request and count as votes;
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

PbftCaller::PbftCaller(const ResDBConfig& config)
    : channels_(config),
      identity_(NewIdentity()),
      client_id_(identity_ != nullptr ? identity_->client_id() : RandomClientId()),
      quorum_(config.GetMaxMaliciousReplicaNum() + 1) {
  suspect_.resize(channels_.size(), false);
}

int64_t PbftCaller::leader_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_id_;
}

std::vector<size_t> PbftCaller::FirstRound(uint64_t request_id) const {
  const size_t n = channels_.size();
  std::lock_guard<std::mutex> lock(mu_);
  // The primary is always asked: it is the one that orders the request.
  std::vector<size_t> order;
  const int primary = channels_.IndexOf(leader_id_);
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (request_id + k) % n;
    if (static_cast<int>(i) != primary) order.push_back(i);
  }
  std::stable_partition(order.begin(), order.end(), [this](size_t i) { return !suspect_[i]; });
  if (primary >= 0) order.insert(order.begin(), static_cast<size_t>(primary));
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(quorum_)));
  return order;
}

void PbftCaller::LearnFromCall(const std::vector<size_t>& first, const std::vector<bool>& agreed,
                               bool settled_by_first, Clock::duration latency) {
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

absl::StatusOr<ReplicaAnswer> PbftCaller::Call(Request request, int timeout_ms) {
  if (absl::Status usable = channels_.Usable(); !usable.ok()) return usable;
  if (identity_ != nullptr) {
    request.set_client_public_key(identity_->public_key());
    request.set_client_signature(identity_->Sign(request.request_id(), request.data()));
  }
  const uint64_t request_id = request.request_id();
  ResDBMessage envelope;
  request.SerializeToString(envelope.mutable_data());
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::milliseconds(timeout_ms);
  const size_t n = channels_.size();
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
  std::optional<absl::StatusOr<ReplicaAnswer>> result;

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
      call->reader = channels_.StubFor(i)->AsyncCall(&call->context, envelope, &queue);
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
        members.emplace_back(channels_.id(i), &*other.verdict);
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
      silent.push_back(absl::StrCat(channels_.Describe(i), ": ",
                                    replica.failure.empty() ? "no answer" : replica.failure));
    }
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no result confirmed by ", quorum_, " of ", n, " replicas within ", timeout_ms,
                   " ms; best: ", best, " matching", silent.empty() ? "" : " (",
                   absl::StrJoin(silent, "; "), silent.empty() ? "" : ")"));
}

absl::StatusOr<ReplicaAnswer> PbftCaller::Decide(
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
    case Response::OK:
      return ReplicaAnswer{verdict.data(), who};
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

}  // namespace resdb
