#include "platform/consensus/ordering/raft/membership.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace resdb {
namespace raft {
namespace {

bool Contains(const google::protobuf::RepeatedField<int64_t>& ids, int64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

void Erase(google::protobuf::RepeatedField<int64_t>* ids, int64_t id) {
  ids->erase(std::remove(ids->begin(), ids->end(), id), ids->end());
}

void Insert(google::protobuf::RepeatedField<int64_t>* ids, int64_t id) {
  ids->Add(id);
  std::sort(ids->begin(), ids->end());
}

}  // namespace

const char* MembershipChangeName(MembershipChange change) {
  switch (change) {
    case MembershipChange::kAddLearner:
      return "add learner";
    case MembershipChange::kAddVoter:
      return "add voter";
    case MembershipChange::kRemove:
      return "remove";
  }
  return "unknown";
}

bool IsVoterOf(const Membership& membership, int64_t id) {
  return Contains(membership.voters(), id);
}

bool IsLearnerOf(const Membership& membership, int64_t id) {
  return Contains(membership.learners(), id);
}

absl::StatusOr<Membership> ChangeMembership(const Membership& current, MembershipChange change,
                                            int64_t id, const std::string& address) {
  if (id == 0) return absl::InvalidArgumentError("replica id 0 is not valid");
  const bool voter = IsVoterOf(current, id);
  const bool learner = IsLearnerOf(current, id);
  Membership next = current;
  switch (change) {
    case MembershipChange::kAddLearner:
      if (learner) return absl::AlreadyExistsError(absl::StrCat(id, " is already a learner"));
      if (voter) {
        return absl::InvalidArgumentError(
            absl::StrCat(id, " is a voter; remove it first to make it a learner"));
      }
      Insert(next.mutable_learners(), id);
      break;
    case MembershipChange::kAddVoter:
      if (voter) return absl::AlreadyExistsError(absl::StrCat(id, " is already a voter"));
      Erase(next.mutable_learners(), id);
      Insert(next.mutable_voters(), id);
      break;
    case MembershipChange::kRemove:
      if (!voter && !learner) {
        return absl::NotFoundError(absl::StrCat(id, " is not a member"));
      }
      if (voter && current.voters_size() == 1) {
        return absl::FailedPreconditionError(absl::StrCat(id, " is the last voter"));
      }
      Erase(next.mutable_voters(), id);
      Erase(next.mutable_learners(), id);
      next.mutable_addresses()->erase(id);
      return next;
  }
  if (!address.empty()) (*next.mutable_addresses())[id] = address;
  return next;
}

std::string SerializeMembership(const Membership& membership) {
  std::string data;
  {
    google::protobuf::io::StringOutputStream stream(&data);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    membership.SerializeToCodedStream(&coded);
  }
  return data;
}

std::string DescribeMembership(const Membership& membership) {
  return absl::StrCat("voters [", absl::StrJoin(membership.voters(), ", "), "] learners [",
                      absl::StrJoin(membership.learners(), ", "), "]");
}

MembershipHistory::MembershipHistory(Membership base, uint64_t base_index)
    : base_(std::move(base)), base_index_(base_index) {}

const Membership& MembershipHistory::Current() const {
  return entries_.empty() ? base_ : entries_.rbegin()->second;
}

uint64_t MembershipHistory::CurrentIndex() const {
  return entries_.empty() ? base_index_ : entries_.rbegin()->first;
}

const Membership& MembershipHistory::At(uint64_t index) const {
  auto it = entries_.upper_bound(index);
  if (it == entries_.begin()) return base_;
  return std::prev(it)->second;
}

void MembershipHistory::Append(uint64_t index, Membership membership) {
  if (index <= base_index_) return;
  TruncateFrom(index);
  entries_.emplace(index, std::move(membership));
}

void MembershipHistory::TruncateFrom(uint64_t index) {
  entries_.erase(entries_.lower_bound(index), entries_.end());
}

void MembershipHistory::CompactTo(uint64_t index) {
  if (index <= base_index_) return;
  Membership at = At(index);
  entries_.erase(entries_.begin(), entries_.upper_bound(index));
  base_ = std::move(at);
  base_index_ = index;
}

void MembershipHistory::ResetBase(Membership base, uint64_t index) {
  entries_.erase(entries_.begin(), entries_.upper_bound(index));
  base_ = std::move(base);
  base_index_ = index;
}

}  // namespace raft
}  // namespace resdb
