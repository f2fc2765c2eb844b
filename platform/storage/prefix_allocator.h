#ifndef PLATFORM_STORAGE_PREFIX_ALLOCATOR_H_
#define PLATFORM_STORAGE_PREFIX_ALLOCATOR_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "platform/storage/storage.h"

namespace resdb {

// Key prefixes of the components that share one Storage. They must stay pairwise
// non-overlapping (no one is a prefix of another).
inline constexpr absl::string_view kPbftPrefix = "pbft_";
inline constexpr absl::string_view kRaftStatePrefix = "raft_state_";
inline constexpr absl::string_view kRaftLogPrefix = "raft_log_";
inline constexpr absl::string_view kRaftSnapshotPrefix = "raft_snapshot_";
inline constexpr absl::string_view kUserDataPrefix = "user_";

// Hands out disjoint key ranges of a shared Storage to named owners. Thread-safe.
class PrefixAllocator {
 public:
  // Records that `owner` uses the keys starting with `prefix`. Refuses (InvalidArgumentError)
  // an empty prefix or one starting with the reserved byte 0xFF, and (AlreadyExistsError) a
  // prefix equal to, extending, or extended by one already registered; the message names both
  // prefixes and both owners.
  absl::Status Register(absl::string_view prefix, absl::string_view owner);

  // Registers `prefix` for `owner` and returns a view of `base` restricted to it (see
  // PrefixedStorage). `base` must outlive the view.
  absl::StatusOr<std::unique_ptr<Storage>> Allocate(Storage* base, absl::string_view prefix,
                                                    absl::string_view owner);

  // The registered (prefix, owner) pairs in ascending prefix order.
  std::vector<std::pair<std::string, std::string>> Registered() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> owners_;  // prefix -> owner
};

}  // namespace resdb

#endif  // PLATFORM_STORAGE_PREFIX_ALLOCATOR_H_
