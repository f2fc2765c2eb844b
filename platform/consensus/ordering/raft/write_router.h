#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_WRITE_ROUTER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_WRITE_ROUTER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "platform/consensus/ordering/raft/raft_metrics.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/replica/client_sessions.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace raft {

// Where a client write goes under RAFT. The leader queues it for its next proposal; a
// follower forwards it to the leader it knows, or answers NO_LEADER. When the leader changes,
// every write still waiting is routed again: the old leader's uncommitted entries may be lost,
// and the applied-request table keeps a write that lands in the log twice from applying twice.
// A forwarded write still waiting after `retry` is forwarded again, since delivery between
// replicas is at most once. Raft thread only.
class WriteRouter {
 public:
  using Clock = std::chrono::steady_clock;
  using RespondFn = std::function<Response(Response::Status status, const std::string& error)>;

  // `node`, `sessions` and `metrics` must outlive the router.
  WriteRouter(int64_t self_id, std::chrono::milliseconds retry, RaftNode* node,
              ClientSessions* sessions, RaftMetrics* metrics, RespondFn respond)
      : self_id_(self_id),
        retry_(retry),
        node_(node),
        sessions_(sessions),
        metrics_(metrics),
        respond_(std::move(respond)) {}

  // A write whose call this replica holds.
  void Route(const UserRequest& request);
  // A write another replica forwarded to this one as its leader.
  void Forwarded(UserRequest request);
  // The leader proposes what is queued, in batches; a replica that lost leadership routes the
  // writes it holds the calls of again and drops the others (their replicas retry them).
  void ProposeQueued();
  // Acts on a change of leader since the last call; true if there was one.
  bool CheckLeaderChange();
  // Forwards again the writes forwarded `retry` or longer ago (followers only: a leader's
  // proposal either commits or is overwritten, which CheckLeaderChange handles).
  void Retry(Clock::time_point now);

 private:
  const int64_t self_id_;
  const std::chrono::milliseconds retry_;
  RaftNode* const node_;
  ClientSessions* const sessions_;
  RaftMetrics* const metrics_;
  const RespondFn respond_;
  int64_t last_leader_ = 0;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_WRITE_ROUTER_H_
