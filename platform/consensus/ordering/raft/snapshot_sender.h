#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_SENDER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_SENDER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_snapshot_manager.h"

namespace resdb {
namespace raft {

// The leader's side of snapshot transfer: sends the current snapshot, one chunk at a time, to
// each follower whose entries were compacted away, and follows the followers' answers. One
// chunk per follower is in flight, so a transfer paces itself by the follower's answers and
// leaves room for normal replication. Raft thread only.
class SnapshotSender {
 public:
  using Clock = std::chrono::steady_clock;
  using SendFn = std::function<void(int64_t to, InstallSnapshotRequest request)>;

  struct Options {
    int64_t self_id = 0;
    uint64_t chunk_bytes = 1 << 20;
    // A chunk without an answer for this long is sent again ...
    std::chrono::milliseconds resend{1000};
    // ... unless the follower has every chunk and is installing them: then after this long.
    std::chrono::milliseconds install_patience{10000};
  };

  // What a follower's answer did to its transfer.
  enum class Outcome {
    kIgnored,          // not an answer to a transfer in progress
    kNextChunkSent,    // the transfer goes on
    kAwaitingInstall,  // every chunk arrived; the follower is installing the snapshot
    kInstalled,        // done: report success to RaftNode::ReportSnapshot
    kRejected,         // the follower refused it: report failure
  };

  // `snapshots` must outlive the sender.
  SnapshotSender(Options options, const RaftSnapshotManager* snapshots, SendFn send)
      : options_(options), snapshots_(snapshots), send_(std::move(send)) {}

  // The leader of `term`, once per tick: starts or continues a transfer to each follower in
  // `needing` (RaftNode::FollowersNeedingSnapshot) and forgets the others.
  void Tick(uint64_t term, const std::vector<int64_t>& needing, Clock::time_point now);
  // No longer leading: forgets every transfer.
  void Clear() { transfers_.clear(); }

  Outcome OnResponse(uint64_t term, int64_t from, const InstallSnapshotResponse& response,
                     Clock::time_point now);

  size_t transfers() const { return transfers_.size(); }

 private:
  struct Transfer {
    SnapshotMetadata metadata;
    uint64_t offset = 0;
    bool in_flight = false;
    bool installing = false;
    Clock::time_point sent_at;
  };

  // Sends the chunk at the transfer's offset; forgets the transfer if the snapshot was
  // replaced meanwhile (the next tick starts over with the new one).
  void SendChunk(uint64_t term, int64_t to, Transfer& transfer, Clock::time_point now);

  const Options options_;
  const RaftSnapshotManager* const snapshots_;
  const SendFn send_;
  std::map<int64_t, Transfer> transfers_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_SENDER_H_
