#include "platform/storage/prefix_allocator.h"

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

KeyValues ScanAll(Storage* storage) {
  absl::StatusOr<KeyValues> all = storage->GetRange("", "");
  EXPECT_TRUE(all.ok()) << all.status();
  return all.ok() ? *std::move(all) : KeyValues();
}

TEST(PrefixAllocatorTest, BuiltInPrefixesAreDisjoint) {
  PrefixAllocator allocator;
  EXPECT_TRUE(allocator.Register(kPbftPrefix, "pbft").ok());
  EXPECT_TRUE(allocator.Register(kRaftStatePrefix, "raft state").ok());
  EXPECT_TRUE(allocator.Register(kRaftLogPrefix, "raft log").ok());
  EXPECT_TRUE(allocator.Register(kRaftSnapshotPrefix, "raft snapshot").ok());
  EXPECT_TRUE(allocator.Register(kUserDataPrefix, "user data").ok());
  EXPECT_THAT(allocator.Registered(),
              ElementsAre(Pair("pbft_", "pbft"), Pair("raft_log_", "raft log"),
                          Pair("raft_snapshot_", "raft snapshot"),
                          Pair("raft_state_", "raft state"), Pair("user_", "user data")));
}

TEST(PrefixAllocatorTest, ShorterPrefixCoveringARegisteredOneIsRefused) {
  PrefixAllocator allocator;
  ASSERT_TRUE(allocator.Register("raft_log_", "raft log").ok());
  absl::Status status = allocator.Register("raft_", "raft");
  EXPECT_TRUE(absl::IsAlreadyExists(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"raft_\""));
  EXPECT_THAT(status.message(), HasSubstr("\"raft\""));
  EXPECT_THAT(status.message(), HasSubstr("\"raft_log_\""));
  EXPECT_THAT(status.message(), HasSubstr("\"raft log\""));
  EXPECT_THAT(allocator.Registered(), ElementsAre(Pair("raft_log_", "raft log")));
}

TEST(PrefixAllocatorTest, LongerPrefixInsideARegisteredOneIsRefused) {
  PrefixAllocator allocator;
  ASSERT_TRUE(allocator.Register("raft_", "raft").ok());
  absl::Status status = allocator.Register("raft_log_", "raft log");
  EXPECT_TRUE(absl::IsAlreadyExists(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"raft_log_\""));
  EXPECT_THAT(status.message(), HasSubstr("\"raft log\""));
  EXPECT_THAT(status.message(), HasSubstr("\"raft_\""));
  EXPECT_THAT(status.message(), HasSubstr("\"raft\""));
}

TEST(PrefixAllocatorTest, DuplicatePrefixIsRefusedEvenForTheSameOwner) {
  PrefixAllocator allocator;
  ASSERT_TRUE(allocator.Register("pbft_", "pbft").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(allocator.Register("pbft_", "other")));
  EXPECT_TRUE(absl::IsAlreadyExists(allocator.Register("pbft_", "pbft")));
  EXPECT_THAT(allocator.Registered(), ElementsAre(Pair("pbft_", "pbft")));
}

TEST(PrefixAllocatorTest, SiblingPrefixesAreAccepted) {
  PrefixAllocator allocator;
  EXPECT_TRUE(allocator.Register("a_", "a").ok());
  EXPECT_TRUE(allocator.Register("a", "x").code() == absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(allocator.Register("a`", "neighbour").ok());
  EXPECT_TRUE(allocator.Register("a^", "neighbour").ok());
  EXPECT_TRUE(allocator.Register("b_", "b").ok());
  EXPECT_EQ(allocator.Registered().size(), 4u);
}

TEST(PrefixAllocatorTest, EmptyAndReservedPrefixesAreRefused) {
  PrefixAllocator allocator;
  absl::Status empty = allocator.Register("", "greedy");
  EXPECT_TRUE(absl::IsInvalidArgument(empty)) << empty;
  EXPECT_THAT(empty.message(), HasSubstr("greedy"));
  EXPECT_TRUE(
      absl::IsInvalidArgument(allocator.Register("\xff"
                                                 "x",
                                                 "sneaky")));
  EXPECT_THAT(allocator.Registered(), IsEmpty());
}

TEST(PrefixAllocatorTest, ConcurrentRegistrationsOfOnePrefixHaveOneWinner) {
  PrefixAllocator allocator;
  constexpr int kThreads = 8;
  std::promise<void> start;
  std::shared_future<void> go = start.get_future().share();
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.wait();
      // Alternate between the prefix and one overlapping it.
      if (allocator.Register(i % 2 == 0 ? "log_" : "log_x", absl::StrCat("owner", i)).ok()) {
        ++accepted;
      }
    });
  }
  start.set_value();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(allocator.Registered().size(), 1u);
}

TEST(PrefixAllocatorTest, AllocateRefusesNullBaseAndOverlaps) {
  PrefixAllocator allocator;
  EXPECT_TRUE(absl::IsInvalidArgument(allocator.Allocate(nullptr, "p_", "p").status()));
  EXPECT_THAT(allocator.Registered(), IsEmpty());

  std::unique_ptr<Storage> base = NewMemoryStorage();
  ASSERT_TRUE(allocator.Allocate(base.get(), kRaftLogPrefix, "raft log").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(allocator.Allocate(base.get(), "raft_", "raft").status()));
}

TEST(PrefixAllocatorTest, ViewsOverOneBaseDoNotSeeEachOther) {
  std::unique_ptr<Storage> base = NewMemoryStorage();
  PrefixAllocator allocator;
  absl::StatusOr<std::unique_ptr<Storage>> log =
      allocator.Allocate(base.get(), kRaftLogPrefix, "log");
  absl::StatusOr<std::unique_ptr<Storage>> state =
      allocator.Allocate(base.get(), kRaftStatePrefix, "state");
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE(state.ok()) << state.status();

  ASSERT_TRUE((*log)->Put("term", "log-term").ok());
  ASSERT_TRUE((*log)->Put("only-log", "1").ok());
  ASSERT_TRUE((*state)->Put("term", "state-term").ok());
  ASSERT_TRUE((*state)->SetWithVersion("vote", "n1", 0).ok());

  EXPECT_EQ((*log)->Get("term").value_or(""), "log-term");
  EXPECT_EQ((*state)->Get("term").value_or(""), "state-term");
  EXPECT_TRUE(absl::IsNotFound((*state)->Get("only-log").status()));
  EXPECT_TRUE(absl::IsNotFound((*log)->Get("vote").status()));
  EXPECT_TRUE(absl::IsNotFound((*log)->GetWithVersion("vote").status()));

  // Scan strips the prefix and stays inside the view's range.
  EXPECT_THAT(ScanAll(log->get()), ElementsAre(Pair("only-log", "1"), Pair("term", "log-term")));
  EXPECT_THAT((*state)->GetRange("", "\xff").value_or(KeyValues()),
              ElementsAre(Pair("term", "state-term"), Pair("vote", "n1")));

  ASSERT_TRUE((*log)->Delete("term").ok());
  EXPECT_EQ((*state)->Get("term").value_or(""), "state-term");
}

TEST(PrefixAllocatorTest, ViewNeverTouchesKeysOutsideItsPrefix) {
  std::unique_ptr<Storage> base = NewMemoryStorage();
  // Keys sorting just before, around and after "p_" in the base.
  const KeyValues outside = {{"", "empty"},
                             {"p", "p"},
                             {"p^", "below"},
                             {"p`", "above"},
                             {"q_term", "q"},
                             {"raft", "r"},
                             {"\xff"
                              "x",
                              "reserved"}};
  WriteBatch seed;
  for (const auto& [key, value] : outside) seed.Put(key, value);
  ASSERT_TRUE(base->Write(seed, false).ok());

  PrefixAllocator allocator;
  absl::StatusOr<std::unique_ptr<Storage>> view = allocator.Allocate(base.get(), "p_", "p");
  ASSERT_TRUE(view.ok()) << view.status();
  Storage* p = view->get();

  // The view starts empty even though the base is not.
  EXPECT_THAT(ScanAll(p), IsEmpty());
  EXPECT_TRUE(absl::IsNotFound(p->Get("").status()));

  ASSERT_TRUE(p->Put("", "root").ok());
  ASSERT_TRUE(p->Put("term", "3").ok());
  ASSERT_TRUE(p->Put("p", "nested").ok());
  ASSERT_TRUE(p->Delete("raft").ok());
  ASSERT_TRUE(p->Delete("p^").ok());
  ASSERT_TRUE(p->SetWithVersion("config", "c1", 0).ok());
  WriteBatch batch;
  batch.Put("q_term", "9");
  batch.Delete("");
  ASSERT_TRUE(p->Write(batch, true).ok());
  ASSERT_TRUE(p->Flush().ok());

  KeyValues base_outside;
  KeyValues base_inside;
  for (auto& kv : ScanAll(base.get())) {
    (kv.first.rfind("p_", 0) == 0 ? base_inside : base_outside).push_back(kv);
  }
  EXPECT_EQ(base_outside, outside);
  // Plain keys land under the prefix; versioned bookkeeping stays under it too.
  ASSERT_GT(base_inside.size(), 4u);
  EXPECT_THAT(KeyValues(base_inside.begin(), base_inside.begin() + 4),
              ElementsAre(Pair("p_config", "c1"), Pair("p_p", "nested"), Pair("p_q_term", "9"),
                          Pair("p_term", "3")));
  for (size_t i = 4; i < base_inside.size(); ++i) {
    EXPECT_EQ(base_inside[i].first.substr(0, 3), "p_\xff");
  }
}

}  // namespace
}  // namespace resdb
