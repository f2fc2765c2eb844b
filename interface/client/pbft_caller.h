#ifndef INTERFACE_CLIENT_PBFT_CALLER_H_
#define INTERFACE_CLIENT_PBFT_CALLER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "interface/client/replica_caller.h"
#include "interface/client/replica_channels.h"
#include "platform/common/crypto/client_identity.h"
#include "platform/config/resdb_config.h"

namespace resdb {

// PBFT: up to f = (n-1)/3 replicas may lie, so no single answer is trusted. Requests are
// signed with the client's key (made on first use; the client id derives from it), since
// PBFT replicas take only requests their client signed. A call returns the first result
// that f+1 replicas agree on (same Response status and identical data bytes; at least one of
// them is correct); answers that disagree are outvoted, never returned. It goes first to f+1
// replicas: the primary last named by agreeing replicas and others in rotation, avoiding
// those that recently failed to agree. It goes to every other replica as soon as one of
// those fails or two answers differ, or after three typical call latencies (20 to 500 ms)
// without agreement. Replicas that fail or answer NO_LEADER / UNAVAILABLE / TIMEOUT are
// asked again after a backoff; if all have answered without f+1 agreeing, all are asked
// again. Outstanding sends are cancelled once the call is decided. Without agreement by the
// deadline the call fails with DeadlineExceededError ("no result confirmed by f+1 of n
// replicas within T ms; best: k matching", then what each silent replica did). f+1 agreeing
// INVALID_REQUEST / UNIMPLEMENTED / INTERNAL verdicts map as ReplicaCaller says.
class PbftCaller : public ReplicaCaller {
 public:
  explicit PbftCaller(const ResDBConfig& config);

  uint64_t client_id() const override { return client_id_; }
  absl::StatusOr<ReplicaAnswer> Call(Request request, int timeout_ms) override;
  int64_t leader_id() const override;

 private:
  using Clock = std::chrono::steady_clock;

  // The replicas a call asks first: the primary and others in rotation by `request_id`,
  // those that recently failed to agree last.
  std::vector<size_t> FirstRound(uint64_t request_id) const;
  // Records how a call that asked `first` first was settled.
  void LearnFromCall(const std::vector<size_t>& first, const std::vector<bool>& agreed,
                     bool settled_by_first, Clock::duration latency);
  // The outcome of a call on which `members` (replica id, answer) gave the same verdict.
  absl::StatusOr<ReplicaAnswer> Decide(
      const std::vector<std::pair<int64_t, const Response*>>& members);

  ReplicaChannels channels_;
  // The key every request is signed with; null only if no key could be made (the replicas
  // then refuse the requests, saying why).
  const std::unique_ptr<ClientIdentity> identity_;
  const uint64_t client_id_;
  // Matching verdicts that settle a call (f+1: at least one from a correct replica).
  const int quorum_;

  mutable std::mutex mu_;
  // The primary most of the last agreeing replicas named (0: unknown).
  int64_t leader_id_ = 0;
  // Replicas that were asked first and did not agree in time (asked first again only when
  // there are not enough others), and the smoothed latency of settled calls.
  std::vector<bool> suspect_;
  Clock::duration settled_latency_ = std::chrono::milliseconds(10);
};

}  // namespace resdb

#endif  // INTERFACE_CLIENT_PBFT_CALLER_H_
