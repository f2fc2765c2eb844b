#include "platform/consensus/ordering/raft/membership.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace resdb {
namespace raft {
namespace {

Membership Make(std::vector<int64_t> voters, std::vector<int64_t> learners = {}) {
  Membership m;
  for (int64_t v : voters) m.add_voters(v);
  for (int64_t l : learners) m.add_learners(l);
  return m;
}

TEST(ChangeMembershipTest, AddLearnerPromoteAndRemove) {
  auto with_learner =
      ChangeMembership(Make({1, 2, 3}), MembershipChange::kAddLearner, 4, "127.0.0.1:9");
  ASSERT_TRUE(with_learner.ok()) << with_learner.status();
  EXPECT_EQ(DescribeMembership(*with_learner), "voters [1, 2, 3] learners [4]");
  EXPECT_EQ(with_learner->addresses().at(4), "127.0.0.1:9");
  EXPECT_TRUE(IsLearnerOf(*with_learner, 4));
  EXPECT_FALSE(IsVoterOf(*with_learner, 4));

  auto promoted = ChangeMembership(*with_learner, MembershipChange::kAddVoter, 4, "");
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(DescribeMembership(*promoted), "voters [1, 2, 3, 4] learners []");
  EXPECT_EQ(promoted->addresses().at(4), "127.0.0.1:9");

  auto removed = ChangeMembership(*promoted, MembershipChange::kRemove, 2, "");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(DescribeMembership(*removed), "voters [1, 3, 4] learners []");
}

TEST(SerializeMembershipTest, SameMembershipSameBytesWhateverTheInsertionOrder) {
  Membership a = Make({1, 2, 3});
  Membership b = Make({1, 2, 3});
  for (int64_t id : {4, 7, 5, 9, 6}) (*a.mutable_addresses())[id] = "h:" + std::to_string(id);
  for (int64_t id : {9, 6, 5, 4, 7}) (*b.mutable_addresses())[id] = "h:" + std::to_string(id);
  EXPECT_EQ(SerializeMembership(a), SerializeMembership(b));
  Membership parsed;
  ASSERT_TRUE(parsed.ParseFromString(SerializeMembership(a)));
  EXPECT_EQ(parsed.addresses().at(7), "h:7");
}

TEST(ChangeMembershipTest, RefusesChangesThatMakeNoSenseWithTheirReason) {
  const Membership m = Make({1, 2, 3}, {4});
  EXPECT_TRUE(
      absl::IsInvalidArgument(ChangeMembership(m, MembershipChange::kAddVoter, 0, "").status()));
  EXPECT_TRUE(
      absl::IsAlreadyExists(ChangeMembership(m, MembershipChange::kAddVoter, 2, "").status()));
  EXPECT_TRUE(
      absl::IsAlreadyExists(ChangeMembership(m, MembershipChange::kAddLearner, 4, "").status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(ChangeMembership(m, MembershipChange::kAddLearner, 2, "").status()));
  EXPECT_TRUE(absl::IsNotFound(ChangeMembership(m, MembershipChange::kRemove, 7, "").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(
      ChangeMembership(Make({5}), MembershipChange::kRemove, 5, "").status()));
  // The learner of a one-voter cluster can still leave.
  EXPECT_TRUE(ChangeMembership(Make({5}, {6}), MembershipChange::kRemove, 6, "").ok());
}

TEST(MembershipHistoryTest, LatestEntryRulesAndTruncationRestoresTheEarlierOne) {
  MembershipHistory history(Make({1, 2, 3}), 0);
  history.Append(5, Make({1, 2, 3}, {4}));
  history.Append(9, Make({1, 2, 3, 4}));
  EXPECT_EQ(history.CurrentIndex(), 9u);
  EXPECT_EQ(DescribeMembership(history.At(4)), "voters [1, 2, 3] learners []");
  EXPECT_EQ(DescribeMembership(history.At(5)), "voters [1, 2, 3] learners [4]");
  EXPECT_EQ(DescribeMembership(history.At(100)), "voters [1, 2, 3, 4] learners []");

  history.TruncateFrom(7);
  EXPECT_EQ(history.CurrentIndex(), 5u);
  EXPECT_EQ(DescribeMembership(history.Current()), "voters [1, 2, 3] learners [4]");

  // A new entry at an index overwrites what the log held there and after.
  history.Append(9, Make({1, 2, 3, 4}));
  history.Append(5, Make({1, 2}));
  EXPECT_EQ(history.CurrentIndex(), 5u);
  EXPECT_EQ(DescribeMembership(history.Current()), "voters [1, 2] learners []");
}

TEST(MembershipHistoryTest, CompactionAndASnapshotBaseKeepLaterEntries) {
  MembershipHistory history(Make({1, 2, 3}), 0);
  history.Append(5, Make({1, 2, 3}, {4}));
  history.Append(9, Make({1, 2, 3, 4}));
  history.CompactTo(6);
  EXPECT_EQ(DescribeMembership(history.At(6)), "voters [1, 2, 3] learners [4]");
  EXPECT_EQ(history.CurrentIndex(), 9u);
  history.TruncateFrom(9);
  EXPECT_EQ(history.CurrentIndex(), 6u);
  EXPECT_EQ(DescribeMembership(history.Current()), "voters [1, 2, 3] learners [4]");
  // Entries at or below the base are superseded by it.
  history.Append(3, Make({9}));
  EXPECT_EQ(DescribeMembership(history.Current()), "voters [1, 2, 3] learners [4]");

  history.Append(12, Make({1, 2, 4}));
  history.ResetBase(Make({1, 2, 3, 4}), 10);
  EXPECT_EQ(DescribeMembership(history.At(10)), "voters [1, 2, 3, 4] learners []");
  EXPECT_EQ(DescribeMembership(history.Current()), "voters [1, 2, 4] learners []");
}

}  // namespace
}  // namespace raft
}  // namespace resdb
