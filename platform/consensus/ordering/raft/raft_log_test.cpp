#include "platform/consensus/ordering/raft/raft_log.h"

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/testing/restartable_storage.h"
#include "platform/storage/forwarding_storage.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace raft {
namespace {

using ::testing::HasSubstr;

// Forwards to another Storage, counting reads; writes fail once `writes_left` reaches 0
// (a crash: nothing of the failing write is applied).
class InstrumentedStorage : public ForwardingStorage {
 public:
  using ForwardingStorage::ForwardingStorage;

  absl::StatusOr<std::string> Get(absl::string_view key) override {
    ++gets;
    return ForwardingStorage::Get(key);
  }
  absl::Status Write(const WriteBatch& batch, bool sync) override {
    if (writes_left == 0) return absl::UnavailableError("injected crash");
    if (writes_left > 0) --writes_left;
    return ForwardingStorage::Write(batch, sync);
  }
  absl::Status Scan(
      absl::string_view begin, absl::string_view end,
      const std::function<bool(absl::string_view, absl::string_view)>& visit) override {
    return ForwardingStorage::Scan(begin, end, [&](absl::string_view key, absl::string_view value) {
      ++scanned;
      return visit(key, value);
    });
  }

  std::atomic<int> gets{0};
  std::atomic<int> scanned{0};
  // Negative: unlimited.
  int writes_left = -1;
};

Entry MakeEntry(uint64_t index, uint64_t term, const std::string& data = "") {
  Entry entry;
  entry.set_index(index);
  entry.set_term(term);
  entry.set_data(data.empty() ? absl::StrCat("cmd-", index) : data);
  return entry;
}

std::vector<Entry> MakeEntries(uint64_t first, uint64_t last, uint64_t term) {
  std::vector<Entry> entries;
  for (uint64_t i = first; i <= last; ++i) entries.push_back(MakeEntry(i, term));
  return entries;
}

class RaftLogTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    OpenBase();
    ASSERT_TRUE(base_->Put("pbft_checkpoint", "p").ok());
    ASSERT_TRUE(base_->Put("user_key", "u").ok());
  }

  void TearDown() override {
    if (base_ == nullptr) return;
    EXPECT_EQ(base_->Get("pbft_checkpoint").value_or(""), "p");
    EXPECT_EQ(base_->Get("user_key").value_or(""), "u");
  }

  void OpenBase() {
    ASSERT_TRUE(storage_.Open().ok());
    base_ = storage_.base();
    view_ = storage_.view();
  }

  std::unique_ptr<RaftLog> OpenLog(Storage* storage = nullptr) {
    absl::StatusOr<std::unique_ptr<RaftLog>> log =
        RaftLog::Open(storage != nullptr ? storage : view_);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }

  // Simulates a process restart: the log is dropped and, for LevelDB, the database is closed
  // and opened again. Returns the reopened log.
  std::unique_ptr<RaftLog> Restart(std::unique_ptr<RaftLog> log) {
    log.reset();
    storage_.Close();
    OpenBase();
    return OpenLog();
  }

  RestartableStorage storage_{GetParam(), std::string(kRaftLogPrefix), "raft log"};
  Storage* base_ = nullptr;
  Storage* view_ = nullptr;
};

void ExpectBounds(RaftLog& log, uint64_t first, uint64_t last, uint64_t last_term) {
  EXPECT_EQ(log.FirstIndex(), first);
  EXPECT_EQ(log.LastLogIndex(), last);
  EXPECT_EQ(log.LastLogTerm(), last_term);
}

std::vector<uint64_t> Indexes(const std::vector<Entry>& entries) {
  std::vector<uint64_t> indexes;
  for (const Entry& entry : entries) indexes.push_back(entry.index());
  return indexes;
}

TEST_P(RaftLogTest, EmptyLog) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ExpectBounds(*log, 1, 0, 0);
  EXPECT_EQ(log->CommitIndex(), 0u);
  EXPECT_EQ(log->Term(0).value_or(99), 0u);
  EXPECT_TRUE(absl::IsOutOfRange(log->Term(1).status()));
  absl::StatusOr<std::vector<Entry>> none = log->Entries(1, 1, 100);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST_P(RaftLogTest, AppendReadAndTerm) {
  std::unique_ptr<RaftLog> log = OpenLog();
  std::vector<Entry> entries = {MakeEntry(1, 1), MakeEntry(2, 1), MakeEntry(3, 2), MakeEntry(4, 2),
                                MakeEntry(5, 3)};
  ASSERT_TRUE(log->Append(entries).ok());
  ExpectBounds(*log, 1, 5, 3);

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "before restart" : "after restart");
    absl::StatusOr<std::vector<Entry>> read = log->Entries(1, 6, 1 << 20);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->size(), entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      EXPECT_EQ((*read)[i].SerializeAsString(), entries[i].SerializeAsString()) << i;
    }
    std::vector<uint64_t> terms;
    for (uint64_t i = 0; i <= 5; ++i) terms.push_back(log->Term(i).value_or(99));
    EXPECT_EQ(terms, (std::vector<uint64_t>{0, 1, 1, 2, 2, 3}));
    EXPECT_TRUE(absl::IsOutOfRange(log->Term(6).status()));
    log = Restart(std::move(log));
    ASSERT_NE(log, nullptr);
    ExpectBounds(*log, 1, 5, 3);
  }
}

TEST_P(RaftLogTest, BadAppendsAreRejectedAndWriteNothing) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 3, 2)).ok());

  absl::Status gap = log->Append({MakeEntry(5, 2)});
  EXPECT_TRUE(absl::IsInvalidArgument(gap)) << gap;
  EXPECT_THAT(gap.message(), HasSubstr("index 5, expected 4"));

  absl::Status overlap = log->Append({MakeEntry(3, 2)});
  EXPECT_TRUE(absl::IsInvalidArgument(overlap)) << overlap;
  EXPECT_THAT(overlap.message(), HasSubstr("index 3, expected 4"));

  absl::Status hole = log->Append({MakeEntry(4, 2), MakeEntry(6, 2)});
  EXPECT_TRUE(absl::IsInvalidArgument(hole)) << hole;
  EXPECT_THAT(hole.message(), HasSubstr("index 6, expected 5"));

  absl::Status older_term = log->Append({MakeEntry(4, 1)});
  EXPECT_TRUE(absl::IsInvalidArgument(older_term)) << older_term;
  EXPECT_THAT(older_term.message(), HasSubstr("term 1"));

  absl::Status decreasing = log->Append({MakeEntry(4, 3), MakeEntry(5, 2)});
  EXPECT_TRUE(absl::IsInvalidArgument(decreasing)) << decreasing;

  ExpectBounds(*log, 1, 3, 2);
  log = Restart(std::move(log));
  ExpectBounds(*log, 1, 3, 2);
  EXPECT_TRUE(absl::IsNotFound(view_->Get(IndexKey("e", 4)).status()));
}

TEST_P(RaftLogTest, TruncateRemovesSuffix) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append({MakeEntry(1, 1), MakeEntry(2, 1), MakeEntry(3, 2), MakeEntry(4, 2),
                           MakeEntry(5, 2)})
                  .ok());
  ASSERT_TRUE(log->Truncate(3).ok());
  ExpectBounds(*log, 1, 2, 1);
  EXPECT_TRUE(absl::IsOutOfRange(log->Term(3).status()));
  EXPECT_TRUE(absl::IsOutOfRange(log->Entries(1, 4, 1 << 20).status()));
  EXPECT_TRUE(log->Truncate(10).ok());  // Nothing at or above 10.
  ExpectBounds(*log, 1, 2, 1);

  ASSERT_TRUE(log->Append({MakeEntry(3, 4, "replacement")}).ok());
  log = Restart(std::move(log));
  ExpectBounds(*log, 1, 3, 4);
  absl::StatusOr<std::vector<Entry>> read = log->Entries(3, 4, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*read)[0].data(), "replacement");
  EXPECT_TRUE(absl::IsNotFound(view_->Get(IndexKey("e", 4)).status()));
  EXPECT_TRUE(absl::IsNotFound(view_->Get(IndexKey("e", 5)).status()));
}

TEST_P(RaftLogTest, CommittedEntriesCannotBeTruncated) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 5, 1)).ok());
  ASSERT_TRUE(log->CommitTo(3).ok());
  EXPECT_TRUE(log->CommitTo(2).ok());  // Lower: ignored.
  EXPECT_EQ(log->CommitIndex(), 3u);
  absl::Status beyond = log->CommitTo(6);
  EXPECT_TRUE(absl::IsInvalidArgument(beyond)) << beyond;

  absl::Status committed = log->Truncate(3);
  EXPECT_TRUE(absl::IsFailedPrecondition(committed)) << committed;
  EXPECT_THAT(committed.message(), HasSubstr("commit index 3"));
  ExpectBounds(*log, 1, 5, 1);
  EXPECT_TRUE(log->Truncate(4).ok());
  ExpectBounds(*log, 1, 3, 1);

  log = Restart(std::move(log));
  EXPECT_EQ(log->CommitIndex(), 3u);
  EXPECT_TRUE(absl::IsFailedPrecondition(log->Truncate(2)));
}

TEST_P(RaftLogTest, CompactionKeepsBoundaryTerm) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 4, 1)).ok());
  ASSERT_TRUE(log->Append(MakeEntries(5, 10, 2)).ok());
  ASSERT_TRUE(log->CompactTo(5, 2).ok());

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "before restart" : "after restart");
    ExpectBounds(*log, 6, 10, 2);
    EXPECT_EQ(log->CommitIndex(), 5u);
    EXPECT_EQ(log->Term(5).value_or(99), 2u);
    EXPECT_EQ(log->Term(6).value_or(99), 2u);
    EXPECT_TRUE(absl::IsOutOfRange(log->Term(4).status()));
    absl::Status compacted = log->Entries(5, 7, 1 << 20).status();
    EXPECT_TRUE(absl::IsOutOfRange(compacted)) << compacted;
    EXPECT_THAT(compacted.message(), HasSubstr("compacted"));
    absl::StatusOr<std::vector<Entry>> rest = log->Entries(6, 11, 1 << 20);
    ASSERT_TRUE(rest.ok()) << rest.status();
    EXPECT_EQ(Indexes(*rest), (std::vector<uint64_t>{6, 7, 8, 9, 10}));
    for (uint64_t i = 1; i <= 5; ++i) {
      EXPECT_TRUE(absl::IsNotFound(view_->Get(IndexKey("e", i)).status())) << i;
    }
    log = Restart(std::move(log));
  }

  EXPECT_TRUE(log->CompactTo(3, 1).ok());  // Below the boundary: no-op.
  ExpectBounds(*log, 6, 10, 2);
  EXPECT_TRUE(absl::IsFailedPrecondition(log->Truncate(5)));
}

TEST_P(RaftLogTest, CompactionPastTheEndEmptiesTheLog) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 10, 1)).ok());
  ASSERT_TRUE(log->CompactTo(20, 7).ok());
  ExpectBounds(*log, 21, 20, 7);
  EXPECT_EQ(log->Term(20).value_or(99), 7u);
  EXPECT_EQ(log->CommitIndex(), 20u);
  absl::StatusOr<std::vector<Entry>> none = log->Entries(21, 21, 100);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  std::vector<std::pair<std::string, std::string>> entries =
      view_->GetRange("e", "f").value_or(std::vector<std::pair<std::string, std::string>>{{}});
  EXPECT_TRUE(entries.empty());

  log = Restart(std::move(log));
  ExpectBounds(*log, 21, 20, 7);
  EXPECT_TRUE(absl::IsInvalidArgument(log->Append({MakeEntry(21, 6)})));
  ASSERT_TRUE(log->Append({MakeEntry(21, 7)}).ok());
  ExpectBounds(*log, 21, 21, 7);
}

TEST_P(RaftLogTest, CompactionAtConflictingTermDiscardsSuffix) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 10, 1)).ok());
  ASSERT_TRUE(log->CompactTo(5, 3).ok());
  ExpectBounds(*log, 6, 5, 3);
  EXPECT_TRUE(absl::IsNotFound(view_->Get(IndexKey("e", 8)).status()));

  ASSERT_TRUE(log->Append(MakeEntries(6, 10, 3)).ok());
  ASSERT_TRUE(log->CommitTo(9).ok());
  absl::Status committed = log->CompactTo(7, 4);
  EXPECT_TRUE(absl::IsFailedPrecondition(committed)) << committed;
  ExpectBounds(*log, 6, 10, 3);
  log = Restart(std::move(log));
  ExpectBounds(*log, 6, 10, 3);
}

TEST_P(RaftLogTest, EntriesRespectsMaxBytes) {
  std::unique_ptr<RaftLog> log = OpenLog();
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 10; ++i) entries.push_back(MakeEntry(i, 1, std::string(100, 'x')));
  ASSERT_TRUE(log->Append(entries).ok());
  const uint64_t size = entries[0].ByteSizeLong();

  auto indexes = [&](uint64_t lo, uint64_t hi, uint64_t max_bytes) {
    absl::StatusOr<std::vector<Entry>> read = log->Entries(lo, hi, max_bytes);
    EXPECT_TRUE(read.ok()) << read.status();
    return read.ok() ? Indexes(*read) : std::vector<uint64_t>{};
  };
  EXPECT_EQ(indexes(1, 11, 2 * size + size / 2), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(indexes(1, 11, 3 * size), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(indexes(4, 11, 0), (std::vector<uint64_t>{4}));  // At least one entry.
  EXPECT_EQ(indexes(9, 11, 1 << 20), (std::vector<uint64_t>{9, 10}));
  EXPECT_EQ(indexes(5, 5, 0), std::vector<uint64_t>{});
  EXPECT_TRUE(absl::IsOutOfRange(log->Entries(5, 12, 1 << 20).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(log->Entries(6, 5, 1 << 20).status()));
}

TEST_P(RaftLogTest, ReopenReadsOnlyMetadataAndEnds) {
  constexpr uint64_t kEntries = 100000;
  std::unique_ptr<RaftLog> log = OpenLog();
  for (uint64_t first = 1; first <= kEntries; first += 1000) {
    ASSERT_TRUE(log->Append(MakeEntries(first, first + 999, 1 + first / 30000)).ok());
  }
  ASSERT_TRUE(log->CommitTo(90000).ok());
  const uint64_t last_term = log->LastLogTerm();
  log.reset();
  storage_.Close();
  OpenBase();

  InstrumentedStorage counting(view_);
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<RaftLog>> reopened = RaftLog::Open(&counting);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::cout << "Reopening a " << kEntries << "-entry log took "
            << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() << " us\n";

  EXPECT_LE(counting.gets.load(), 3);  // Metadata, first entry, last entry.
  EXPECT_EQ(counting.scanned.load(), 0);
  ExpectBounds(**reopened, 1, kEntries, last_term);
  EXPECT_EQ((*reopened)->CommitIndex(), 90000u);

  const int gets = counting.gets.load();
  EXPECT_EQ((*reopened)->Term(kEntries).value_or(0), last_term);
  EXPECT_EQ(counting.gets.load(), gets);  // Answered from memory.
  EXPECT_EQ((*reopened)->Term(10).value_or(0), 1u);
}

TEST_P(RaftLogTest, RecentTermsComeFromMemory) {
  InstrumentedStorage counting(view_);
  std::unique_ptr<RaftLog> log = OpenLog(&counting);
  ASSERT_TRUE(log->Append(MakeEntries(1, 50, 1)).ok());
  ASSERT_TRUE(log->Append(MakeEntries(51, 100, 2)).ok());
  ASSERT_TRUE(log->Truncate(80).ok());
  ASSERT_TRUE(log->Append(MakeEntries(80, 90, 3)).ok());
  const int gets = counting.gets.load();
  for (uint64_t i = 1; i <= 90; ++i) {
    uint64_t expected = i <= 50 ? 1 : i < 80 ? 2 : 3;
    EXPECT_EQ(log->Term(i).value_or(0), expected) << i;
  }
  EXPECT_EQ(counting.gets.load(), gets);
}

TEST_P(RaftLogTest, CorruptMetadataIsDataLoss) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 3, 1)).ok());
  log.reset();

  std::string meta = view_->Get("m").value_or("");
  ASSERT_FALSE(meta.empty());
  meta[3] ^= 0x40;
  ASSERT_TRUE(view_->Put("m", meta).ok());
  absl::Status status = RaftLog::Open(view_).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"m\""));

  ASSERT_TRUE(view_->Put("m", "garbage").ok());
  status = RaftLog::Open(view_).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"m\""));

  ASSERT_TRUE(view_->Delete("m").ok());
  status = RaftLog::Open(view_).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("missing"));
}

TEST_P(RaftLogTest, CorruptOrMisplacedLastEntryIsDataLoss) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 3, 1)).ok());
  log.reset();
  const std::string last_key = IndexKey("e", 3);
  const std::string escaped = "e\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x03";
  const std::string good = view_->Get(last_key).value_or("");

  ASSERT_TRUE(view_->Put(last_key, "not an entry").ok());
  absl::Status status = RaftLog::Open(view_).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr(escaped));

  // A well-formed record that holds another index than its key.
  ASSERT_TRUE(view_->Put(last_key, EncodeMessageRecord(MakeEntry(7, 1))).ok());
  status = RaftLog::Open(view_).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("holds index 7"));

  ASSERT_TRUE(view_->Delete(last_key).ok());
  status = RaftLog::Open(view_).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr(escaped));

  ASSERT_TRUE(view_->Put(last_key, good).ok());
  EXPECT_TRUE(RaftLog::Open(view_).ok());
}

TEST_P(RaftLogTest, DamagedMiddleEntryIsReportedOnRead) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 5, 1)).ok());
  ASSERT_TRUE(view_->Put(IndexKey("e", 3), "bad").ok());
  absl::Status status = log->Entries(1, 6, 1 << 20).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  ASSERT_TRUE(view_->Delete(IndexKey("e", 3)).ok());
  status = log->Entries(1, 6, 1 << 20).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("missing"));
}

TEST_P(RaftLogTest, CrashBetweenAppendsKeepsConsistentPrefix) {
  InstrumentedStorage crashing(view_);
  std::unique_ptr<RaftLog> log = OpenLog(&crashing);
  ASSERT_TRUE(log->Append(MakeEntries(1, 3, 1)).ok());
  ASSERT_TRUE(log->CommitTo(2).ok());
  crashing.writes_left = 0;
  EXPECT_FALSE(log->Append(MakeEntries(4, 6, 2)).ok());

  log = Restart(std::move(log));
  ExpectBounds(*log, 1, 3, 1);
  EXPECT_EQ(log->CommitIndex(), 2u);
  absl::StatusOr<std::vector<Entry>> read = log->Entries(1, 4, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(Indexes(*read), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(absl::IsNotFound(view_->Get(IndexKey("e", 4)).status()));

  // Both appends completed before the crash: both survive.
  ASSERT_TRUE(log->Append(MakeEntries(4, 6, 2)).ok());
  ASSERT_TRUE(log->Append(MakeEntries(7, 8, 2)).ok());
  log = Restart(std::move(log));
  ExpectBounds(*log, 1, 8, 2);
}

TEST_P(RaftLogTest, ConcurrentReadersSeeConsistentLog) {
  std::unique_ptr<RaftLog> log = OpenLog();
  ASSERT_TRUE(log->Append(MakeEntries(1, 1, 1)).ok());
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        uint64_t last = log->LastLogIndex();
        absl::StatusOr<std::vector<Entry>> read = log->Entries(1, last + 1, 1 << 20);
        if (!read.ok() || read->size() != last || !log->Term(last).ok()) ++errors;
      }
    });
  }
  for (uint64_t i = 2; i <= 300; ++i) {
    absl::Status status = log->Append({MakeEntry(i, 1 + i / 100)});
    if (status.ok() && i % 50 == 0) status = log->CommitTo(i - 10);
    if (!status.ok()) {
      ADD_FAILURE() << "at index " << i << ": " << status;
      break;
    }
  }
  done = true;
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(errors.load(), 0);
  ExpectBounds(*log, 1, 300, 4);
}

INSTANTIATE_TEST_SUITE_P(Backends, RaftLogTest,
                         testing::Values(Backend::kMemory, Backend::kLevelDB),
                         [](const testing::TestParamInfo<Backend>& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace raft
}  // namespace resdb
