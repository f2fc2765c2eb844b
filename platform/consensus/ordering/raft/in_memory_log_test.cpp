#include "platform/consensus/ordering/raft/in_memory_log.h"

#include <gtest/gtest.h>

namespace resdb {
namespace raft {
namespace {

Entry E(uint64_t index, uint64_t term) {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data("d" + std::to_string(index));
  return e;
}

TEST(InMemoryLogTest, RestoreStopsAtTheFirstGap) {
  InMemoryLog log;
  log.Restore(5, 2, {E(6, 2), E(7, 3), E(9, 3)});
  EXPECT_EQ(log.first_index(), 6u);
  EXPECT_EQ(log.last_index(), 7u);
  EXPECT_EQ(log.last_term(), 3u);
  EXPECT_EQ(log.Term(5), 2u);
  EXPECT_FALSE(log.Term(4).has_value());
  EXPECT_FALSE(log.Term(8).has_value());
  EXPECT_FALSE(log.HasUnpersisted());
}

TEST(InMemoryLogTest, UpToDateComparesLastTermThenLength) {
  InMemoryLog log;
  log.Restore(0, 0, {E(1, 1), E(2, 2)});
  EXPECT_TRUE(log.IsUpToDate(1, 3));
  EXPECT_TRUE(log.IsUpToDate(2, 2));
  EXPECT_FALSE(log.IsUpToDate(1, 2));
  EXPECT_FALSE(log.IsUpToDate(9, 1));
}

TEST(InMemoryLogTest, TruncatingPersistedEntriesIsReported) {
  InMemoryLog log;
  log.Restore(0, 0, {E(1, 1), E(2, 1), E(3, 1)});
  ASSERT_TRUE(log.Append(E(4, 1)));
  EXPECT_FALSE(log.Append(E(6, 1)));
  uint64_t truncate = 0;
  std::vector<Entry> entries;
  log.TakeUnpersisted(&truncate, &entries);
  EXPECT_EQ(truncate, 0u);
  ASSERT_EQ(entries.size(), 1u);

  log.TruncateFrom(3);
  ASSERT_TRUE(log.Append(E(3, 2)));
  log.TakeUnpersisted(&truncate, &entries);
  EXPECT_EQ(truncate, 3u);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].term(), 2u);

  // Truncating entries never handed out needs no durable delete.
  ASSERT_TRUE(log.Append(E(4, 2)));
  log.TruncateFrom(4);
  EXPECT_FALSE(log.HasUnpersisted());
}

TEST(InMemoryLogTest, SliceHonoursCountAndBytesButReturnsAtLeastOne) {
  InMemoryLog log;
  log.Restore(0, 0, {E(1, 1), E(2, 1), E(3, 1), E(4, 1)});
  EXPECT_EQ(log.Slice(1, 4, 2, 1 << 20).size(), 2u);
  EXPECT_EQ(log.Slice(1, 4, 100, 1).size(), 1u);
  const uint64_t one = InMemoryLog::EntryBytes(log.At(1));
  EXPECT_EQ(log.Slice(2, 4, 100, 2 * one).size(), 2u);
  EXPECT_TRUE(log.Slice(5, 9, 100, 100).empty());
}

TEST(InMemoryLogTest, CompactionKeepsTheTermAtTheCompactionPoint) {
  InMemoryLog log;
  log.Restore(0, 0, {E(1, 1), E(2, 2), E(3, 2)});
  log.CompactTo(2);
  EXPECT_EQ(log.first_index(), 3u);
  EXPECT_EQ(log.snapshot_term(), 2u);
  EXPECT_TRUE(log.MatchTerm(2, 2));
  EXPECT_FALSE(log.Term(1).has_value());
}

TEST(InMemoryLogTest, TermSearchesForFastBackoff) {
  InMemoryLog log;
  log.Restore(0, 0, {E(1, 1), E(2, 1), E(3, 4), E(4, 4), E(5, 4), E(6, 5)});
  EXPECT_EQ(log.FirstIndexOfTermAt(5), 3u);
  EXPECT_EQ(log.FirstIndexOfTermAt(2), 1u);
  EXPECT_EQ(log.LastIndexOfTerm(4), 5u);
  EXPECT_EQ(log.LastIndexOfTerm(3), 0u);
  EXPECT_EQ(log.LastIndexOfTerm(5), 6u);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
