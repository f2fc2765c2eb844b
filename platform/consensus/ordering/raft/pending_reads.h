#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_PENDING_READS_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_PENDING_READS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace raft {

// Linearizable reads between the client's call and the answer: each waits for its read index
// (RaftNode::ReadIndex), then for the applied index to reach it, and is then served from local
// state. Client threads add reads, the raft thread sets their indexes or fails them, the
// executor thread raises the applied index; a read is served exactly once, by whichever of
// the last two comes second. Thread-safe.
class PendingReads {
 public:
  using Clock = std::chrono::steady_clock;
  // Answers a read once the state holds everything up to its read index (`applied` is the
  // applied index it is served at). Called without the lock held, on the thread that made the
  // read servable.
  using ServeFn = std::function<void(std::unique_ptr<Context> context, const std::string& data,
                                     uint64_t applied)>;

  PendingReads(uint64_t applied, ServeFn serve) : applied_(applied), serve_(std::move(serve)) {}

  // Keeps a read until its deadline; returns its id (never 0).
  uint64_t Add(std::unique_ptr<Context> context, std::string data, Clock::time_point deadline);
  // The read's index is known: served now if applied already, else when the applied index
  // reaches it. Unknown ids (failed or expired meanwhile) are ignored.
  void SetIndex(uint64_t id, uint64_t index);
  // Answers the read with `response` and forgets it.
  void Fail(uint64_t id, const Response& response);
  // The state now holds everything up to `applied` (which never goes back): serves the reads
  // waiting for it.
  void SetApplied(uint64_t applied);
  // Answers every read past its deadline with `response`.
  size_t Expire(Clock::time_point now, const Response& response);
  // Answers every read with `response` (the replica is stopping).
  void FailAll(const Response& response);

  size_t size() const;

 private:
  struct Read {
    std::unique_ptr<Context> context;
    std::string data;
    Clock::time_point deadline;
    uint64_t index = 0;  // 0 until the read index is known
  };

  // Removes `id` from reads_ (and waiting_), returning it; requires mu_.
  Read TakeLocked(std::map<uint64_t, Read>::iterator it);

  mutable std::mutex mu_;
  uint64_t next_id_ = 1;                       // guarded by mu_
  uint64_t applied_;                           // guarded by mu_
  std::map<uint64_t, Read> reads_;             // guarded by mu_
  std::multimap<uint64_t, uint64_t> waiting_;  // read index -> id, guarded by mu_
  const ServeFn serve_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_PENDING_READS_H_
