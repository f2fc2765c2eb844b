#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_FUZZ_PBFT_FUZZ_REPLICA_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_FUZZ_PBFT_FUZZ_REPLICA_H_

#include <cstdint>

#include "platform/consensus/ordering/pbft/pbft_replica.h"

namespace resdb {
namespace pbft {

// The replica pbft_message_fuzzer drives, and its seeds' peers: one of 4, with intervals and
// timeouts short enough that checkpoints, watermark moves and view changes happen within a
// few messages.
inline constexpr int kFuzzReplicas = 4;
// What every replica reports as the state digest after each batch, so that the CHECKPOINTs of
// the seeds agree.
inline constexpr char kFuzzStateDigest[] = "state";

inline PbftReplicaOptions FuzzReplicaOptions() {
  PbftReplicaOptions options;
  options.checkpoint_interval = 2;
  options.watermark_window = 8;
  options.view_change_timeout_ticks = 3;
  options.retransmit_ticks = 2;
  return options;
}

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_FUZZ_PBFT_FUZZ_REPLICA_H_
