#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_MEMBERSHIP_COORDINATOR_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_MEMBERSHIP_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "platform/consensus/ordering/raft/membership.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace raft {

// An operator's membership change on the leader, from the request to the answer, one server
// at a time. Adding a voter takes two steps: the replica joins as a learner, and once its log
// is close to the leader's it is promoted, so that it never stalls commits while it catches
// up. The operator is answered once the change committed, or failed, or timed out. Raft
// thread only.
class MembershipCoordinator {
 public:
  using Clock = std::chrono::steady_clock;
  // Builds an answer to the operator (the manager adds its replica and leader ids).
  using RespondFn = std::function<Response(Response::Status status, const std::string& error)>;
  // Opens a stream to a new member before it is added, so that it hears from the leader.
  using AddPeerFn = std::function<void(int64_t id, const std::string& address)>;

  struct Options {
    int64_t self_id = 0;
    // For a request without its own timeout.
    std::chrono::milliseconds default_timeout{10000};
    // A learner is promoted once its log is at most this many entries behind the leader's.
    uint64_t catch_up_slack = 1;
    // Replicas must be listed (with their public keys) in the config files.
    bool require_signatures = false;
    // The config file's replicas: id -> "host:port".
    std::map<int64_t, std::string> configured;
  };

  // `node` must outlive the coordinator.
  MembershipCoordinator(Options options, RaftNode* node, RespondFn respond, AddPeerFn add_peer);

  // An operator's add_replica or remove_replica. Answered at once when it cannot start (not
  // the leader, a change in progress, a bad request, nothing to do).
  void Start(const AdminRequest& request, std::unique_ptr<Context> context, Clock::time_point now);
  // Proposes the next step when it can, and answers the operator once the change committed,
  // failed or timed out. Call after every round of work.
  void Advance(Clock::time_point now);
  // Answers a change in progress with `response` (the replica is stopping).
  void Abort(const Response& response);
  bool in_progress() const { return pending_.has_value(); }

  // The address of replica `id`: from the membership, else from the config file; "" if
  // neither has it.
  std::string AddressOf(int64_t id, const Membership& membership) const;

 private:
  struct Pending {
    AdminRequest request;
    std::unique_ptr<Context> context;
    Clock::time_point deadline;
    int64_t id = 0;
    std::string address;
    // The step being made, and its CONFIG entry once proposed (index 0: not yet).
    MembershipChange step = MembershipChange::kAddLearner;
    uint64_t index = 0;
    uint64_t term = 0;
    // Before a promotion: the learner's log must reach the leader's last index as of the
    // moment the promotion was due.
    uint64_t catch_up_to = 0;
  };

  // Fills `pending` for an add_replica; an answer if the request ends here.
  std::optional<Response> PrepareAdd(const AddReplica& add, Pending* pending) const;
  bool CaughtUp(const Pending& pending) const;
  void Finish(const Response& response);
  Response NotLeader(const std::string& why) const;

  const Options options_;
  RaftNode* const node_;
  const RespondFn respond_;
  const AddPeerFn add_peer_;
  std::optional<Pending> pending_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_MEMBERSHIP_COORDINATOR_H_
