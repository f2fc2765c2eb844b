#ifndef PLATFORM_CONSENSUS_EXECUTION_STATE_IMAGE_H_
#define PLATFORM_CONSENSUS_EXECUTION_STATE_IMAGE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "platform/storage/storage.h"

namespace resdb {

// The state a replica hands to another as the data of a snapshot: every key/value pair under
// some key prefixes of one Storage (the state machine's data and the bookkeeping that must
// move with it, such as the applied-request table), read from one StorageSnapshot so that the
// image is the state at one applied index even while execution goes on.
//
// Format: "RSI1", then per pair in ascending key order a 64-bit big-endian key size, the
// key, a 64-bit value size and the value. Integrity of the whole image is the carrier's job
// (RaftSnapshotManager checks a SHA-256); the format is still checked pair by pair, so a
// damaged image is refused rather than half-installed.

// The pairs of `snapshot` under each of `prefixes` (keys in full, as the snapshot names them).
// Prefixes must not overlap. Errors of the snapshot's scans are returned as they are.
absl::StatusOr<std::string> EncodeStateImage(const StorageSnapshot& snapshot,
                                             const std::vector<std::string>& prefixes);

// Replaces everything under `prefixes` in `storage` by the pairs of `image`, in one atomic
// write (synced when `sync`): after a crash the storage holds either the old state or the new
// one. Keys outside `prefixes` are never touched. InvalidArgumentError naming the problem, and
// nothing written, if `image` is malformed or holds a key outside `prefixes`.
absl::Status InstallStateImage(Storage* storage, const std::vector<std::string>& prefixes,
                               absl::string_view image, bool sync);

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_STATE_IMAGE_H_
