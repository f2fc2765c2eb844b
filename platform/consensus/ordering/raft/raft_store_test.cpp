#include "platform/consensus/ordering/raft/raft_store.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace raft {
namespace {

using ::testing::HasSubstr;

Entry MakeEntry(uint64_t index, uint64_t term, Entry::Type type = Entry::NORMAL) {
  Entry entry;
  entry.set_index(index);
  entry.set_term(term);
  entry.set_type(type);
  if (type == Entry::NORMAL) entry.set_data(absl::StrCat("not a batch ", index));
  return entry;
}

class RaftStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    storage_ = NewMemoryStorage();
    Reopen();
  }

  void Reopen() {
    store_.reset();
    prefixes_ = std::make_unique<PrefixAllocator>();
    auto store = RaftStore::Open(storage_.get(), prefixes_.get(), /*sync=*/false, 1024);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Term 2, voted for 1, entries 1..4 (1 a NOOP), committed up to 3.
  void PersistSome() {
    Ready ready;
    HardState hs;
    hs.set_current_term(2);
    hs.set_voted_for(1);
    hs.set_commit_index(3);
    ready.hard_state = hs;
    ready.entries = {MakeEntry(1, 1, Entry::NOOP), MakeEntry(2, 1), MakeEntry(3, 2),
                     MakeEntry(4, 2)};
    absl::StatusOr<bool> persisted = store_->Persist(ready);
    ASSERT_TRUE(persisted.ok() && *persisted) << persisted.status();
  }

  std::unique_ptr<Storage> storage_;
  std::unique_ptr<PrefixAllocator> prefixes_;
  std::unique_ptr<RaftStore> store_;
};

TEST_F(RaftStoreTest, ARestartRestoresWhatWasPersisted) {
  PersistSome();
  Reopen();
  absl::StatusOr<RaftRestoredState> restored = store_->Restore(/*applied=*/2);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->hard_state.current_term(), 2u);
  EXPECT_EQ(restored->hard_state.voted_for(), 1);
  EXPECT_EQ(restored->hard_state.commit_index(), 3u);
  EXPECT_EQ(restored->hard_state.last_applied(), 2u);
  ASSERT_EQ(restored->entries.size(), 4u);
  EXPECT_EQ(restored->entries[3].term(), 2u);
  EXPECT_EQ(restored->snapshot.last_included_index(), 0u);
  EXPECT_FALSE(restored->membership.has_value());
}

TEST_F(RaftStoreTest, TheAppliedIndexCountsAsCommittedButNeverBeyondTheLog) {
  PersistSome();
  absl::StatusOr<RaftRestoredState> restored = store_->Restore(4);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->hard_state.commit_index(), 4u);
  absl::StatusOr<RaftRestoredState> beyond = store_->Restore(5);
  ASSERT_FALSE(beyond.ok());
  EXPECT_TRUE(absl::IsDataLoss(beyond.status()));
  EXPECT_THAT(std::string(beyond.status().message()), HasSubstr("beyond the last log index 4"));
}

TEST_F(RaftStoreTest, ASnapshotsMembershipAndCompactionAreRestored) {
  PersistSome();
  SnapshotMetadata metadata;
  metadata.set_last_included_index(3);
  metadata.set_last_included_term(2);
  metadata.mutable_membership()->add_voters(1);
  metadata.mutable_membership()->add_voters(2);
  ASSERT_TRUE(store_->snapshots().Save(metadata, "state").ok());
  ASSERT_TRUE(store_->log().CompactTo(3, 2).ok());
  Reopen();
  absl::StatusOr<RaftRestoredState> restored = store_->Restore(3);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->snapshot.last_included_index(), 3u);
  EXPECT_EQ(restored->snapshot.last_included_term(), 2u);
  ASSERT_EQ(restored->entries.size(), 1u);
  EXPECT_EQ(restored->entries[0].index(), 4u);
  ASSERT_TRUE(restored->membership.has_value());
  EXPECT_EQ(restored->membership->voters_size(), 2);
  EXPECT_EQ(restored->membership_index, 3u);
}

TEST_F(RaftStoreTest, AQueryDescribesEntriesFromTheFirstAskedWithinItsLimit) {
  PersistSome();
  LogQuery query;
  query.set_first(2);
  query.set_max_records(2);
  absl::StatusOr<LogQueryResult> result = store_->Query(query);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->commit_index(), 3u);
  EXPECT_EQ(result->first_index(), 1u);
  EXPECT_EQ(result->last_index(), 4u);
  ASSERT_EQ(result->records_size(), 2);
  EXPECT_EQ(result->records(0).index(), 2u);
  EXPECT_EQ(result->records(1).index(), 3u);
  query.set_first(1);
  query.set_max_records(1);
  result = store_->Query(query);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->records_size(), 1);
  EXPECT_EQ(result->records(0).kind(), "noop");
}

TEST_F(RaftStoreTest, APrefixAlreadyTakenIsRefused) {
  PrefixAllocator prefixes;
  ASSERT_TRUE(prefixes.Allocate(storage_.get(), kRaftLogPrefix, "something else").ok());
  absl::StatusOr<std::unique_ptr<RaftStore>> store =
      RaftStore::Open(storage_.get(), &prefixes, false, 1024);
  EXPECT_FALSE(store.ok());
}

}  // namespace
}  // namespace raft
}  // namespace resdb
