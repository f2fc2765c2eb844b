#include "platform/consensus/ordering/raft/ready_persister.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"

namespace resdb {
namespace raft {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Step = ReadyPersister::Step;

Entry MakeEntry(uint64_t index, uint64_t term) {
  Entry entry;
  entry.set_index(index);
  entry.set_term(term);
  entry.set_data(absl::StrCat("cmd-", index, "-", term));
  return entry;
}

HardState MakeHardState(uint64_t term, int64_t vote, uint64_t commit) {
  HardState hs;
  hs.set_current_term(term);
  hs.set_voted_for(vote);
  hs.set_commit_index(commit);
  return hs;
}

// Records the steps it sees and stops after `stop_after` (if set).
class RecordingObserver : public ReadyPersister::Observer {
 public:
  bool AfterStep(Step step, const Ready&) override {
    steps.push_back(step);
    return !(stop_after.has_value() && *stop_after == step);
  }
  std::vector<Step> steps;
  std::optional<Step> stop_after;
};

class ReadyPersisterTest : public testing::Test {
 protected:
  void SetUp() override {
    storage_ = NewMemoryStorage();
    log_view_ = *prefixes_.Allocate(storage_.get(), kRaftLogPrefix, "log");
    state_view_ = *prefixes_.Allocate(storage_.get(), kRaftStatePrefix, "state");
    Reopen();
  }

  // A restart: what is on the storage is all that is left.
  void Reopen() {
    persister_.reset();
    log_ = *RaftLog::Open(log_view_.get(), /*sync=*/false);
    state_ = *RaftPersistentState::Open(state_view_.get(), /*sync=*/false);
    persister_ = std::make_unique<ReadyPersister>(log_.get(), state_.get());
  }

  // Entries 1..3 of term 1, committed up to 1.
  void PersistBase() {
    Ready ready;
    ready.hard_state = MakeHardState(1, 1, 1);
    ready.entries = {MakeEntry(1, 1), MakeEntry(2, 1), MakeEntry(3, 1)};
    ASSERT_TRUE(*persister_->Persist(ready));
  }

  PrefixAllocator prefixes_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Storage> log_view_;
  std::unique_ptr<Storage> state_view_;
  std::unique_ptr<RaftLog> log_;
  std::unique_ptr<RaftPersistentState> state_;
  std::unique_ptr<ReadyPersister> persister_;
};

TEST_F(ReadyPersisterTest, StepsComeInContractOrder) {
  PersistBase();
  // A new leader's entries replace 3; a snapshot at 1 arrived too.
  Ready ready;
  ready.hard_state = MakeHardState(2, 2, 3);
  SnapshotMetadata snapshot;
  snapshot.set_last_included_index(1);
  snapshot.set_last_included_term(1);
  ready.snapshot = snapshot;
  ready.truncate_from = 3;
  ready.entries = {MakeEntry(3, 2), MakeEntry(4, 2)};
  RecordingObserver observer;
  ASSERT_TRUE(*persister_->Persist(ready, &observer));
  EXPECT_THAT(observer.steps, ElementsAre(Step::kHardState, Step::kSnapshotBoundary,
                                          Step::kTruncated, Step::kAppended, Step::kCommitIndex));

  Reopen();
  EXPECT_EQ(state_->current_term(), 2u);
  EXPECT_EQ(state_->voted_for(), 2);
  EXPECT_EQ(log_->FirstIndex(), 2u);
  EXPECT_EQ(log_->LastLogIndex(), 4u);
  EXPECT_EQ(*log_->Term(3), 2u);
  EXPECT_EQ(log_->CommitIndex(), 3u);
}

TEST_F(ReadyPersisterTest, OnlyTheStepsAReadyHasAreReported) {
  Ready empty;
  RecordingObserver observer;
  ASSERT_TRUE(*persister_->Persist(empty, &observer));
  EXPECT_THAT(observer.steps, ElementsAre(Step::kHardState, Step::kCommitIndex));
}

TEST_F(ReadyPersisterTest, ACrashBeforeTheCommitStepLeavesTheCommitIndexBehindTheLog) {
  PersistBase();
  Ready ready;
  ready.hard_state = MakeHardState(2, 2, 4);
  ready.truncate_from = 3;
  ready.entries = {MakeEntry(3, 2), MakeEntry(4, 2)};
  RecordingObserver observer;
  observer.stop_after = Step::kAppended;
  EXPECT_FALSE(*persister_->Persist(ready, &observer));

  Reopen();
  EXPECT_EQ(log_->LastLogIndex(), 4u);
  EXPECT_EQ(*log_->Term(3), 2u);
  EXPECT_EQ(log_->CommitIndex(), 1u);
}

TEST_F(ReadyPersisterTest, ACrashAfterTheHardStateWritesNoLogChange) {
  PersistBase();
  Ready ready;
  ready.hard_state = MakeHardState(3, 3, 3);
  ready.truncate_from = 2;
  ready.entries = {MakeEntry(2, 3)};
  RecordingObserver observer;
  observer.stop_after = Step::kHardState;
  EXPECT_FALSE(*persister_->Persist(ready, &observer));

  Reopen();
  EXPECT_EQ(state_->current_term(), 3u);
  EXPECT_EQ(state_->voted_for(), 3);
  EXPECT_EQ(log_->LastLogIndex(), 3u);
  EXPECT_EQ(*log_->Term(2), 1u);
  EXPECT_EQ(log_->CommitIndex(), 1u);
}

TEST_F(ReadyPersisterTest, TheCommitIndexNeverCoversEntriesTheLogDoesNotHold) {
  PersistBase();
  Ready ready;
  ready.hard_state = MakeHardState(1, 1, 9);
  ASSERT_TRUE(*persister_->Persist(ready));
  EXPECT_EQ(log_->CommitIndex(), 3u);
}

TEST_F(ReadyPersisterTest, AnErrorNamesTheStepAndWritesNothingAfterIt) {
  PersistBase();
  Ready ready;
  ready.hard_state = MakeHardState(0, 0, 3);  // a term below the stored one is refused
  ready.entries = {MakeEntry(4, 1)};
  absl::StatusOr<bool> persisted = persister_->Persist(ready);
  ASSERT_FALSE(persisted.ok());
  EXPECT_THAT(std::string(persisted.status().message()), HasSubstr("term and vote"));
  EXPECT_EQ(log_->LastLogIndex(), 3u);
  EXPECT_EQ(log_->CommitIndex(), 1u);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
