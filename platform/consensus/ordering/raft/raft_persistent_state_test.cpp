#include "platform/consensus/ordering/raft/raft_persistent_state.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/testing/restartable_storage.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"

namespace resdb {
namespace raft {
namespace {

using ::testing::HasSubstr;

class RaftPersistentStateTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    OpenBase();
    ASSERT_TRUE(base_->Put("pbft_view", "p").ok());
    ASSERT_TRUE(base_->Put("user_key", "u").ok());
  }

  void TearDown() override {
    if (base_ == nullptr) return;
    EXPECT_EQ(base_->Get("pbft_view").value_or(""), "p");
    EXPECT_EQ(base_->Get("user_key").value_or(""), "u");
  }

  void OpenBase() {
    ASSERT_TRUE(storage_.Open().ok());
    base_ = storage_.base();
    view_ = storage_.view();
  }

  std::unique_ptr<RaftPersistentState> OpenState() {
    absl::StatusOr<std::unique_ptr<RaftPersistentState>> state = RaftPersistentState::Open(view_);
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *std::move(state) : nullptr;
  }

  // Drops `state` and, for LevelDB, closes and reopens the database; returns the state reopened.
  std::unique_ptr<RaftPersistentState> Restart(std::unique_ptr<RaftPersistentState> state) {
    state.reset();
    storage_.Close();
    OpenBase();
    return OpenState();
  }

  RestartableStorage storage_{GetParam(), std::string(kRaftStatePrefix), "raft state"};
  Storage* base_ = nullptr;
  Storage* view_ = nullptr;
};

TEST_P(RaftPersistentStateTest, StartsEmpty) {
  std::unique_ptr<RaftPersistentState> state = OpenState();
  EXPECT_EQ(state->current_term(), 0u);
  EXPECT_EQ(state->voted_for(), kNoVote);
  EXPECT_EQ(state->last_applied(), 0u);
}

TEST_P(RaftPersistentStateTest, RoundTripAcrossReopen) {
  std::unique_ptr<RaftPersistentState> state = OpenState();
  ASSERT_TRUE(state->SetTermAndVote(5, 2).ok());
  ASSERT_TRUE(state->SetLastApplied(38).ok());

  state = Restart(std::move(state));
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->current_term(), 5u);
  EXPECT_EQ(state->voted_for(), 2);
  EXPECT_EQ(state->last_applied(), 38u);
}

TEST_P(RaftPersistentStateTest, TermNeverGoesBack) {
  std::unique_ptr<RaftPersistentState> state = OpenState();
  ASSERT_TRUE(state->SetTermAndVote(7, kNoVote).ok());
  absl::Status back = state->SetTermAndVote(6, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(back)) << back;
  EXPECT_THAT(back.message(), HasSubstr("from 7 to 6"));

  state = Restart(std::move(state));
  EXPECT_EQ(state->current_term(), 7u);
  EXPECT_EQ(state->voted_for(), kNoVote);
}

TEST_P(RaftPersistentStateTest, OneVotePerTerm) {
  std::unique_ptr<RaftPersistentState> state = OpenState();
  ASSERT_TRUE(state->SetTermAndVote(2, kNoVote).ok());
  ASSERT_TRUE(state->SetTermAndVote(2, 3).ok());
  EXPECT_TRUE(state->SetTermAndVote(2, 3).ok());  // Same vote again.
  absl::Status other = state->SetTermAndVote(2, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(other)) << other;
  EXPECT_THAT(other.message(), HasSubstr("already voted for 3"));
  EXPECT_EQ(state->voted_for(), 3);
  ASSERT_TRUE(state->SetTermAndVote(3, 1).ok());  // A new term frees the vote.
  EXPECT_EQ(state->voted_for(), 1);
}

TEST_P(RaftPersistentStateTest, AppliedOnlyMovesForward) {
  std::unique_ptr<RaftPersistentState> state = OpenState();
  ASSERT_TRUE(state->SetLastApplied(9).ok());
  ASSERT_TRUE(state->SetLastApplied(2).ok());
  state = Restart(std::move(state));
  EXPECT_EQ(state->last_applied(), 9u);
}

TEST_P(RaftPersistentStateTest, CorruptRecordIsDataLoss) {
  std::unique_ptr<RaftPersistentState> state = OpenState();
  ASSERT_TRUE(state->SetTermAndVote(4, 1).ok());
  state.reset();

  for (const char* key : {"hard_state"}) {
    SCOPED_TRACE(key);
    std::string good = view_->Get(key).value_or("");
    ASSERT_FALSE(good.empty());
    std::string bad = good;
    bad[0] ^= 0x10;
    ASSERT_TRUE(view_->Put(key, bad).ok());
    absl::Status status = RaftPersistentState::Open(view_).status();
    EXPECT_TRUE(absl::IsDataLoss(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr(std::string("\"") + key + "\""));

    ASSERT_TRUE(view_->Put(key, "x").ok());
    EXPECT_TRUE(absl::IsDataLoss(RaftPersistentState::Open(view_).status()));
    ASSERT_TRUE(view_->Put(key, good).ok());
  }
  state = OpenState();
  EXPECT_EQ(state->current_term(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Backends, RaftPersistentStateTest,
                         testing::Values(Backend::kMemory, Backend::kLevelDB),
                         [](const testing::TestParamInfo<Backend>& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace raft
}  // namespace resdb
