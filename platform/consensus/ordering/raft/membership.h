#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_MEMBERSHIP_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_MEMBERSHIP_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"

namespace resdb {
namespace raft {

enum class MembershipChange {
  // A new member that receives the log but does not vote.
  kAddLearner,
  // A new voter, or a learner promoted to voter.
  kAddVoter,
  // A voter or learner leaves.
  kRemove,
};

const char* MembershipChangeName(MembershipChange change);

bool IsVoterOf(const Membership& membership, int64_t id);
bool IsLearnerOf(const Membership& membership, int64_t id);

// `current` with one server changed, voters and learners kept sorted. `address` ("host:port",
// may be empty) is recorded for an added member. Errors: InvalidArgument for id 0;
// AlreadyExists if the change is already in effect (adding a voter that is one, a learner
// that is one); InvalidArgument for demoting a voter to learner; NotFound for removing a
// non-member; FailedPrecondition for removing the last voter.
absl::StatusOr<Membership> ChangeMembership(const Membership& current, MembershipChange change,
                                            int64_t id, const std::string& address);

// The bytes of a CONFIG entry: `membership` serialized with map entries in key order, so that
// the same membership always gives the same entry.
std::string SerializeMembership(const Membership& membership);

// "voters [1, 2, 4] learners [5]".
std::string DescribeMembership(const Membership& membership);

// The configurations a log defines. A configuration takes effect as soon as its CONFIG entry
// is in the log, committed or not (Raft thesis 4.1), so the one in effect is that of the
// latest CONFIG entry held, else the base: the configuration as of the log's start (a
// snapshot's, or the initial one). Truncating the log brings back the earlier one.
class MembershipHistory {
 public:
  // `base` is in effect at `base_index` and after it until a CONFIG entry follows.
  MembershipHistory(Membership base, uint64_t base_index);

  const Membership& Current() const;
  // The index of the entry that set Current() (the base index if none did).
  uint64_t CurrentIndex() const;
  // The configuration in effect at `index` (the base one for an index at or below the base).
  const Membership& At(uint64_t index) const;

  // A CONFIG entry at `index` entered the log; entries at or after it that were recorded
  // before are gone (the log was overwritten there).
  void Append(uint64_t index, Membership membership);
  // Log entries >= index were dropped.
  void TruncateFrom(uint64_t index);
  // Log entries <= index were compacted away: the configuration at `index` becomes the base.
  void CompactTo(uint64_t index);
  // The log now starts after `index`, where `base` is in effect; later CONFIG entries stay.
  void ResetBase(Membership base, uint64_t index);

 private:
  Membership base_;
  uint64_t base_index_;
  // CONFIG entries in the log after base_index_, by index.
  std::map<uint64_t, Membership> entries_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_MEMBERSHIP_H_
