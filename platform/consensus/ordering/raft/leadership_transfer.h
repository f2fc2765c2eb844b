#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_LEADERSHIP_TRANSFER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_LEADERSHIP_TRANSFER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace raft {

// An operator's leadership transfer on the leader, answered once the target leads, the node
// gave up (it does after an election timeout), or `timeout` passed. One at a time. Raft
// thread only.
class LeadershipTransfer {
 public:
  using Clock = std::chrono::steady_clock;
  using RespondFn = std::function<Response(Response::Status status, const std::string& error)>;

  // `node` must outlive the transfer.
  LeadershipTransfer(int64_t self_id, std::chrono::milliseconds timeout, RaftNode* node,
                     RespondFn respond)
      : self_id_(self_id), timeout_(timeout), node_(node), respond_(std::move(respond)) {}

  void Start(int64_t to, std::unique_ptr<Context> context, Clock::time_point now);
  // Answers the operator once the transfer took effect, was abandoned or timed out. Call
  // after every round of work.
  void Check(Clock::time_point now);
  // Answers a transfer in progress with `response` (the replica is stopping).
  void Abort(const Response& response);
  bool in_progress() const { return pending_.has_value(); }

 private:
  struct Pending {
    int64_t to = 0;
    std::unique_ptr<Context> context;
    Clock::time_point deadline;
  };

  const int64_t self_id_;
  const std::chrono::milliseconds timeout_;
  RaftNode* const node_;
  const RespondFn respond_;
  std::optional<Pending> pending_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_LEADERSHIP_TRANSFER_H_
