#include "platform/consensus/ordering/pbft/ledger_reader.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace pbft {
namespace {

class LedgerReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto wal = PbftWal::Open(storage_.get(), /*sync=*/false);
    ASSERT_TRUE(wal.ok()) << wal.status();
    wal_ = std::move(*wal);
  }

  // Commits seqs [first, last]; seq 3 is an empty (no-op) batch.
  void CommitBatches(uint64_t first, uint64_t last) {
    std::vector<std::pair<uint64_t, std::string>> committed;
    for (uint64_t seq = first; seq <= last; ++seq) {
      BatchUserRequest batch;
      if (seq != 3) batch.add_requests()->set_data(absl::StrCat("req-", seq));
      committed.emplace_back(seq, seq == 3 ? "" : batch.SerializeAsString());
    }
    ASSERT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, committed).ok());
  }

  std::unique_ptr<Storage> storage_ = NewMemoryStorage();
  std::unique_ptr<PbftWal> wal_;
};

TEST_F(LedgerReaderTest, LogQueryDescribesTheLedgerFromTheAskedSeq) {
  CommitBatches(1, 5);
  LedgerReader reader(wal_.get());
  LogQuery query;
  query.set_first(2);
  query.set_max_records(2);
  absl::StatusOr<LogQueryResult> result = reader.AnswerLogQuery(query.SerializeAsString());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->commit_index(), 5u);
  EXPECT_EQ(result->first_index(), 1u);
  EXPECT_EQ(result->last_index(), 5u);
  ASSERT_EQ(result->records_size(), 2);
  EXPECT_EQ(result->records(0).index(), 2u);
  EXPECT_EQ(result->records(0).kind(), "normal");
  EXPECT_EQ(result->records(1).kind(), "noop");
}

TEST_F(LedgerReaderTest, LogQueryOnAnEmptyLedgerAndBadDataDoNotRead) {
  LedgerReader reader(wal_.get());
  absl::StatusOr<LogQueryResult> empty = reader.AnswerLogQuery(LogQuery().SerializeAsString());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->records_size(), 0);
  EXPECT_TRUE(absl::IsInvalidArgument(reader.AnswerLogQuery("\xff\xff").status()));
}

TEST_F(LedgerReaderTest, FetchReadsFromTheAskedSeq) {
  CommitBatches(1, 5);
  LedgerReader reader(wal_.get());
  absl::StatusOr<std::vector<CommittedBatch>> batches = reader.ReadForFetch(4);
  ASSERT_TRUE(batches.ok());
  ASSERT_EQ(batches->size(), 2u);
  EXPECT_EQ((*batches)[0].seq(), 4u);
}

TEST_F(LedgerReaderTest, ReplayHandsOverEveryEntryAfterTheExecutedSeq) {
  CommitBatches(1, 5);
  LedgerReader reader(wal_.get());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(reader
                  .Replay(
                      2,
                      [&](CommittedBatch batch) {
                        seqs.push_back(batch.seq());
                        return true;
                      },
                      [] { return false; })
                  .ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 4, 5}));
}

TEST_F(LedgerReaderTest, ReplayStopsWhenTheExecutorRefuses) {
  CommitBatches(1, 5);
  LedgerReader reader(wal_.get());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(reader
                  .Replay(
                      0,
                      [&](CommittedBatch batch) {
                        seqs.push_back(batch.seq());
                        return seqs.size() < 2;
                      },
                      [] { return false; })
                  .ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
