#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_MESSAGE_VALIDATOR_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_MESSAGE_VALIDATOR_H_

#include <cstdint>

#include "absl/status/status.h"
#include "platform/consensus/ordering/pbft/watermarks.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {

// Stateless admission checks for PBFT replica messages, applied after the transport has
// authenticated the message (signature verification is not repeated here) and before the
// message reaches any protocol state. A message that fails is dropped and counted by the
// caller; the returned status says which check failed.
//
// Replica ids are 1..n. The primary of view v is replica (v % n) + 1: view 0 is led by
// replica 1, view 1 by replica 2, ..., view n by replica 1 again.
//
// Checks, in order:
// - the type is one of PRE_PREPARE, PREPARE, COMMIT, CHECKPOINT, VIEWCHANGE, NEWVIEW
//   (InvalidArgument);
// - sender_id is a replica id in 1..n (InvalidArgument);
// - PRE_PREPARE / PREPARE / COMMIT:
//   - view equals the current view (FailedPrecondition),
//   - PRE_PREPARE comes from the primary of that view (PermissionDenied),
//   - seq is inside the watermarks, low < seq <= high (OutOfRange),
//   - hash is a 32-byte SHA-256 digest (InvalidArgument),
//   - PRE_PREPARE: hash equals BatchDigest(data) (InvalidArgument);
// - CHECKPOINT: seq is above the low watermark (OutOfRange), hash (the state digest) is
//   present (InvalidArgument);
// - VIEWCHANGE / NEWVIEW: view is not below the current view (FailedPrecondition), where the
//   current view is the one the replica is in or is changing to; NEWVIEW comes from the
//   primary of the view it announces (PermissionDenied).
class MessageValidator {
 public:
  // `replica_num` is n, the number of replicas.
  explicit MessageValidator(int replica_num);

  // The primary of `view` among `replica_num` replicas: (view % n) + 1. Returns 0 when
  // replica_num <= 0.
  static int64_t PrimaryOf(uint64_t view, int replica_num);
  int64_t PrimaryOf(uint64_t view) const { return PrimaryOf(view, replica_num_); }

  int replica_num() const { return replica_num_; }

  absl::Status Validate(const Request& request, uint64_t current_view,
                        const Watermarks& watermarks) const;

 private:
  absl::Status ValidateOrdering(const Request& request, uint64_t current_view,
                                const Watermarks& watermarks) const;

  int replica_num_;
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_MESSAGE_VALIDATOR_H_
