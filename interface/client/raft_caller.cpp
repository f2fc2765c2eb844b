#include "interface/client/raft_caller.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "interface/client/random_client_id.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;

// Pause after a full round of replicas failed, doubling up to the maximum.
constexpr std::chrono::milliseconds kInitialRoundBackoff(50);
constexpr std::chrono::milliseconds kMaxRoundBackoff(1000);

std::string LeaderName(int64_t leader_id) {
  return leader_id == 0 ? std::string("none") : absl::StrCat(leader_id);
}

}  // namespace

RaftCaller::RaftCaller(const ResDBConfig& config)
    : channels_(config), client_id_(RandomClientId()) {}

int64_t RaftCaller::leader_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_id_;
}

absl::StatusOr<ReplicaAnswer> RaftCaller::Call(Request request, int timeout_ms) {
  if (absl::Status usable = channels_.Usable(); !usable.ok()) return usable;
  const size_t n = channels_.size();
  size_t index;
  {
    std::lock_guard<std::mutex> lock(mu_);
    index = start_index_;
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
    const grpc::Status rpc = channels_.StubFor(index)->Call(&context, envelope, &response);
    size_t next = (index + 1) % n;
    if (!rpc.ok()) {
      if (rpc.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        // An attempt started just before the deadline says nothing new: what the earlier ones
        // answered ("no leader", ...) is the better reason.
        if (!last_error.ok()) break;
        return absl::DeadlineExceededError(absl::StrCat("no answer within the ", timeout_ms,
                                                        " ms client timeout from ",
                                                        channels_.Describe(index)));
      }
      last_error = absl::UnavailableError(
          absl::StrCat(channels_.Describe(index), " is unreachable: ", rpc.error_message()));
      std::lock_guard<std::mutex> lock(mu_);
      if (start_index_ == index) start_index_ = next;
    } else {
      const int64_t id = channels_.id(index);
      switch (response.status()) {
        case Response::OK: {
          std::lock_guard<std::mutex> lock(mu_);
          if (response.leader_id() != 0) leader_id_ = response.leader_id();
          const int leader = channels_.IndexOf(leader_id_);
          start_index_ = leader >= 0 ? static_cast<size_t>(leader) : index;
          return ReplicaAnswer{std::move(*response.mutable_data()), channels_.Describe(index)};
        }
        case Response::NO_LEADER: {
          int64_t leader;
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (response.leader_id() != 0) leader_id_ = response.leader_id();
            leader = leader_id_;
            const int hint = channels_.IndexOf(response.leader_id());
            if (hint >= 0 && static_cast<size_t>(hint) != index) next = hint;
            start_index_ = next;
          }
          last_error = absl::UnavailableError(absl::StrCat(
              "no leader: ", channels_.Describe(index), " knows no leader",
              response.error().empty() ? "" : absl::StrCat(" (", response.error(), ")"),
              "; last known leader: ", LeaderName(leader)));
          break;
        }
        case Response::UNAVAILABLE:
          last_error = absl::UnavailableError(
              absl::StrCat(channels_.Describe(index), " is unavailable: ", response.error()));
          break;
        case Response::TIMEOUT:
          return absl::DeadlineExceededError(absl::StrCat(
              channels_.Describe(index), " timed out the request (client timeout ", timeout_ms,
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
      channels_.PauseWhileConnecting(std::min<Clock::duration>(backoff, left));
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
                                                  channels_.Describe(index), ")"));
}

}  // namespace resdb
