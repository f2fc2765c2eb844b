#ifndef INTERFACE_CLIENT_RAFT_CALLER_H_
#define INTERFACE_CLIENT_RAFT_CALLER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "interface/client/replica_caller.h"
#include "interface/client/replica_channels.h"
#include "platform/config/resdb_config.h"

namespace resdb {

// RAFT: one replica at a time, following leader hints. A call starts at the last replica
// known to lead (or that last answered), else the first replica of the config. A NO_LEADER
// answer with a leader hint sends the call to the hinted replica; NO_LEADER without a usable
// hint, UNAVAILABLE and transport failures move it to the next replica. After every replica
// has been tried once without an answer the caller backs off briefly and goes round again,
// until the deadline. The one replica that answers is trusted.
class RaftCaller : public ReplicaCaller {
 public:
  explicit RaftCaller(const ResDBConfig& config);

  uint64_t client_id() const override { return client_id_; }
  absl::StatusOr<ReplicaAnswer> Call(Request request, int timeout_ms) override;
  int64_t leader_id() const override;

 private:
  ReplicaChannels channels_;
  const uint64_t client_id_;

  mutable std::mutex mu_;
  // Where the next call starts, and the replica last reported as leader (0: unknown).
  size_t start_index_ = 0;
  int64_t leader_id_ = 0;
};

}  // namespace resdb

#endif  // INTERFACE_CLIENT_RAFT_CALLER_H_
