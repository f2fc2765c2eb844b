#include "platform/consensus/ordering/pbft/pbft_wal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/record_codec.h"
#include "platform/storage/scoped_temp_dir.h"

namespace resdb {
namespace pbft {
namespace {

using Committed = std::vector<std::pair<uint64_t, std::string>>;

SlotRecord Slot(uint64_t seq, uint64_t view, bool prepared) {
  SlotRecord slot;
  slot.mutable_batch()->set_seq(seq);
  slot.mutable_batch()->set_view(view);
  slot.mutable_batch()->set_digest(absl::StrCat("digest-", seq, "-", view));
  slot.mutable_batch()->set_data(absl::StrCat("data-", seq));
  if (prepared) {
    *slot.mutable_certificate() = slot.batch();
    for (int64_t sender : {2, 3}) {
      SignedMessage* prepare = slot.mutable_certificate()->add_prepares();
      prepare->set_data(absl::StrCat("prepare-", seq, "-", sender));
      prepare->set_signer(sender);
      prepare->set_signature(absl::StrCat("signature-", sender));
    }
  }
  slot.set_prepared(prepared);
  return slot;
}

// Ledger batches [from, to], each `size` bytes long.
Committed Batches(uint64_t from, uint64_t to, size_t size = 8) {
  Committed batches;
  for (uint64_t seq = from; seq <= to; ++seq) {
    std::string data = absl::StrCat("batch-", seq, "-");
    data.resize(size, 'x');
    batches.emplace_back(seq, data);
  }
  return batches;
}

ViewRecord View(uint64_t view, bool active) {
  ViewRecord record;
  record.set_view(view);
  record.set_active(active);
  return record;
}

StableCheckpoint Stable(uint64_t seq) {
  StableCheckpoint stable;
  stable.set_seq(seq);
  stable.set_digest(absl::StrCat("state-", seq));
  for (int64_t sender : {1, 3, 4}) {
    SignedMessage* checkpoint = stable.add_checkpoints();
    checkpoint->set_signer(sender);
    checkpoint->set_data(absl::StrCat("checkpoint of replica ", sender));
  }
  return stable;
}

std::vector<uint64_t> Seqs(const std::vector<CommittedBatch>& batches) {
  std::vector<uint64_t> seqs;
  for (const CommittedBatch& batch : batches) seqs.push_back(batch.seq());
  return seqs;
}

std::vector<uint64_t> SlotSeqs(const std::vector<SlotRecord>& slots) {
  std::vector<uint64_t> seqs;
  for (const SlotRecord& slot : slots) seqs.push_back(slot.batch().seq());
  return seqs;
}

std::unique_ptr<PbftWal> MustOpen(Storage* storage) {
  absl::StatusOr<std::unique_ptr<PbftWal>> wal = PbftWal::Open(storage, /*sync=*/true);
  EXPECT_TRUE(wal.ok()) << wal.status();
  return wal.ok() ? *std::move(wal) : nullptr;
}

// A WAL over the "pbft_" view of an in-memory store, reopenable to simulate a restart.
class PbftWalTest : public ::testing::Test {
 protected:
  PbftWalTest() : base_(NewMemoryStorage()) {
    auto view = PrefixAllocator().Allocate(base_.get(), kPbftPrefix, "pbft");
    EXPECT_TRUE(view.ok()) << view.status();
    storage_ = *std::move(view);
    wal_ = MustOpen(storage_.get());
  }

  void Reopen() {
    wal_.reset();
    wal_ = MustOpen(storage_.get());
    ASSERT_NE(wal_, nullptr);
  }

  std::unique_ptr<Storage> base_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<PbftWal> wal_;
};

TEST_F(PbftWalTest, EmptyStoreOpensToViewZeroActiveSeqZero) {
  const RestoredState& restored = wal_->restored();
  EXPECT_EQ(restored.view, 0u);
  EXPECT_TRUE(restored.view_active);
  EXPECT_EQ(restored.stable.seq(), 0u);
  EXPECT_EQ(restored.last_committed, 0u);
  EXPECT_TRUE(restored.slots.empty());
  EXPECT_EQ(wal_->last_committed(), 0u);
  EXPECT_EQ(wal_->first_ledger_seq(), 0u);
  EXPECT_TRUE(wal_->ReadLedger(1, 10, 1000)->empty());
  EXPECT_TRUE(absl::IsNotFound(wal_->ReadBatch(1).status()));
  EXPECT_TRUE(wal_->TrimLedgerBefore(5).ok());
  EXPECT_EQ(wal_->first_ledger_seq(), 0u);
}

TEST(PbftWalLevelDBTest, RoundTripAndReopenRestoresEverything) {
  ScopedTempDir dir;
  {
    auto base = OpenLevelDBStorage(dir.path());
    ASSERT_TRUE(base.ok()) << base.status();
    auto storage = PrefixAllocator().Allocate(base->get(), kPbftPrefix, "pbft");
    ASSERT_TRUE(storage.ok()) << storage.status();
    std::unique_ptr<PbftWal> wal = MustOpen(storage->get());
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(
        wal->Write(View(2, true), {Slot(1, 2, false), Slot(2, 2, true)}, std::nullopt, Committed{})
            .ok());
    ASSERT_TRUE(wal->Write(View(3, false), {Slot(2, 2, true), Slot(4, 3, true), Slot(5, 3, false)},
                           Stable(2), Batches(1, 3))
                    .ok());
    EXPECT_EQ(wal->last_committed(), 3u);
    EXPECT_EQ(wal->first_ledger_seq(), 1u);
  }
  auto base = OpenLevelDBStorage(dir.path());
  ASSERT_TRUE(base.ok()) << base.status();
  auto storage = PrefixAllocator().Allocate(base->get(), kPbftPrefix, "pbft");
  ASSERT_TRUE(storage.ok()) << storage.status();
  std::unique_ptr<PbftWal> wal = MustOpen(storage->get());
  ASSERT_NE(wal, nullptr);

  const RestoredState& restored = wal->restored();
  EXPECT_EQ(restored.view, 3u);
  EXPECT_FALSE(restored.view_active);
  EXPECT_EQ(restored.stable.SerializeAsString(), Stable(2).SerializeAsString());
  EXPECT_EQ(restored.last_committed, 3u);
  ASSERT_EQ(SlotSeqs(restored.slots), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(restored.slots[0].SerializeAsString(), Slot(4, 3, true).SerializeAsString());
  EXPECT_EQ(restored.slots[1].SerializeAsString(), Slot(5, 3, false).SerializeAsString());

  EXPECT_EQ(wal->last_committed(), 3u);
  EXPECT_EQ(wal->first_ledger_seq(), 1u);
  EXPECT_EQ(*wal->ReadBatch(2), Batches(2, 2)[0].second);
  auto ledger = wal->ReadLedger(1, 10, 1 << 20);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  EXPECT_EQ(Seqs(*ledger), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ((*ledger)[2].data(), Batches(3, 3)[0].second);

  // The reopened ledger continues where it stopped.
  EXPECT_TRUE(absl::IsInvalidArgument(wal->Write(std::nullopt, {}, std::nullopt, Batches(3, 3))));
  EXPECT_TRUE(wal->Write(std::nullopt, {}, std::nullopt, Batches(4, 4)).ok());
  EXPECT_EQ(wal->last_committed(), 4u);
}

TEST_F(PbftWalTest, SlotRecordsAreDeletedOnceAStableCheckpointCoversThem) {
  ASSERT_TRUE(wal_->Write(std::nullopt, {Slot(1, 0, true), Slot(2, 0, true), Slot(3, 0, false)},
                          std::nullopt, Committed{})
                  .ok());
  // Committed batches keep their records: their certificates still count in a view change.
  ASSERT_TRUE(
      wal_->Write(std::nullopt, {Slot(4, 0, true), Slot(5, 0, false)}, std::nullopt, Batches(1, 4))
          .ok());
  Reopen();
  EXPECT_EQ(wal_->restored().last_committed, 4u);
  EXPECT_EQ(SlotSeqs(wal_->restored().slots), (std::vector<uint64_t>{1, 2, 3, 4, 5}));

  // A record at or below the stable checkpoint is not even written.
  ASSERT_TRUE(wal_->Write(std::nullopt, {Slot(2, 1, true)}, Stable(3), Committed{}).ok());
  auto raw = base_->GetRange("pbft_slot/", "pbft_slot0");
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_EQ(raw->size(), 2u);
  EXPECT_EQ(raw->front().first, absl::StrCat("pbft_", IndexKey("slot/", 4)));

  Reopen();
  EXPECT_EQ(wal_->restored().stable.seq(), 3u);
  EXPECT_EQ(SlotSeqs(wal_->restored().slots), (std::vector<uint64_t>{4, 5}));
  // The stable checkpoint is remembered across the reopen.
  ASSERT_TRUE(wal_->Write(std::nullopt, {Slot(3, 1, true)}, std::nullopt, Committed{}).ok());
  Reopen();
  EXPECT_EQ(SlotSeqs(wal_->restored().slots), (std::vector<uint64_t>{4, 5}));
}

TEST_F(PbftWalTest, TheNewViewSentAsPrimaryIsRestored) {
  ViewRecord view = View(5, true);
  view.set_new_view("serialized NEWVIEW");
  ASSERT_TRUE(wal_->Write(view, {}, std::nullopt, Committed{}).ok());
  Reopen();
  EXPECT_EQ(wal_->restored().view, 5u);
  EXPECT_EQ(wal_->restored().new_view, "serialized NEWVIEW");
}

TEST_F(PbftWalTest, LatestSlotRecordPerSeqWins) {
  ASSERT_TRUE(wal_->Write(std::nullopt, {Slot(7, 1, false), Slot(8, 1, false), Slot(7, 1, true)},
                          std::nullopt, Committed{})
                  .ok());
  ASSERT_TRUE(wal_->Write(std::nullopt, {Slot(8, 2, true)}, std::nullopt, Committed{}).ok());
  Reopen();
  const std::vector<SlotRecord>& slots = wal_->restored().slots;
  ASSERT_EQ(SlotSeqs(slots), (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(slots[0].SerializeAsString(), Slot(7, 1, true).SerializeAsString());
  EXPECT_EQ(slots[1].SerializeAsString(), Slot(8, 2, true).SerializeAsString());
}

TEST_F(PbftWalTest, NonContiguousLedgerWriteIsRefusedAndWritesNothing) {
  ASSERT_TRUE(wal_->Write(View(1, true), {}, std::nullopt, Batches(1, 2)).ok());

  Committed gap = Batches(4, 4);
  Committed hole = Batches(3, 3);
  hole.emplace_back(5, "five");
  Committed repeat = Batches(2, 3);
  for (const Committed& committed : {gap, hole, repeat}) {
    absl::Status status = wal_->Write(View(9, false), {Slot(3, 9, true)}, Stable(2), committed);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  }
  SlotRecord no_seq;
  EXPECT_TRUE(
      absl::IsInvalidArgument(wal_->Write(View(9, false), {no_seq}, std::nullopt, Batches(3, 3))));
  EXPECT_EQ(wal_->last_committed(), 2u);

  Reopen();
  EXPECT_EQ(wal_->restored().view, 1u);
  EXPECT_TRUE(wal_->restored().view_active);
  EXPECT_EQ(wal_->restored().stable.seq(), 0u);
  EXPECT_EQ(wal_->restored().last_committed, 2u);
  EXPECT_TRUE(wal_->restored().slots.empty());
  EXPECT_TRUE(absl::IsNotFound(wal_->ReadBatch(3).status()));
}

TEST_F(PbftWalTest, FirstLedgerWriteMustStartAtSeqOne) {
  EXPECT_TRUE(absl::IsInvalidArgument(wal_->Write(std::nullopt, {}, std::nullopt, Batches(2, 3))));
  EXPECT_EQ(wal_->last_committed(), 0u);
  EXPECT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, Batches(1, 1)).ok());
}

TEST_F(PbftWalTest, ReadLedgerLimitsByCountAndBytesAndReturnsAtLeastOne) {
  ASSERT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, Batches(1, 10, 100)).ok());

  EXPECT_EQ(Seqs(*wal_->ReadLedger(3, 4, 1 << 20)), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(Seqs(*wal_->ReadLedger(3, 100, 250)), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(Seqs(*wal_->ReadLedger(3, 100, 300)), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(Seqs(*wal_->ReadLedger(3, 100, 10)), (std::vector<uint64_t>{3}));
  EXPECT_EQ(Seqs(*wal_->ReadLedger(3, 100, 0)), (std::vector<uint64_t>{3}));
  EXPECT_EQ(Seqs(*wal_->ReadLedger(8, 100, 1 << 20)), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(Seqs(*wal_->ReadLedger(10, SIZE_MAX, SIZE_MAX)), (std::vector<uint64_t>{10}));
  EXPECT_TRUE(wal_->ReadLedger(11, 100, 1 << 20)->empty());
  EXPECT_TRUE(wal_->ReadLedger(0, 100, 1 << 20)->empty());
  EXPECT_TRUE(wal_->ReadLedger(3, 0, 1 << 20)->empty());
  EXPECT_EQ((*wal_->ReadLedger(5, 1, 1 << 20))[0].data(), Batches(5, 5, 100)[0].second);
}

TEST_F(PbftWalTest, TrimDropsOldEntriesButKeepsTheTip) {
  ASSERT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, Batches(1, 10)).ok());

  ASSERT_TRUE(wal_->TrimLedgerBefore(5).ok());
  EXPECT_EQ(wal_->first_ledger_seq(), 5u);
  EXPECT_EQ(wal_->last_committed(), 10u);
  EXPECT_TRUE(wal_->ReadLedger(4, 10, 1 << 20)->empty());
  EXPECT_EQ(Seqs(*wal_->ReadLedger(5, 2, 1 << 20)), (std::vector<uint64_t>{5, 6}));
  EXPECT_TRUE(absl::IsNotFound(wal_->ReadBatch(4).status()));
  EXPECT_TRUE(wal_->ReadBatch(5).ok());
  auto raw = base_->GetRange("pbft_ledger/", "pbft_ledger0");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 6u);

  ASSERT_TRUE(wal_->TrimLedgerBefore(3).ok());  // Nothing left below 3.
  EXPECT_EQ(wal_->first_ledger_seq(), 5u);

  ASSERT_TRUE(wal_->TrimLedgerBefore(100).ok());
  EXPECT_EQ(wal_->first_ledger_seq(), 10u);
  EXPECT_EQ(Seqs(*wal_->ReadLedger(10, 10, 1 << 20)), (std::vector<uint64_t>{10}));

  Reopen();
  EXPECT_EQ(wal_->first_ledger_seq(), 10u);
  EXPECT_EQ(wal_->last_committed(), 10u);
  EXPECT_EQ(wal_->restored().last_committed, 10u);
  ASSERT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, Batches(11, 12)).ok());
  EXPECT_EQ(Seqs(*wal_->ReadLedger(10, 10, 1 << 20)), (std::vector<uint64_t>{10, 11, 12}));
}

TEST_F(PbftWalTest, LongTrimTakesSeveralStepsAndEndsConsistent) {
  ASSERT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, Batches(1, 10000)).ok());
  ASSERT_TRUE(wal_->TrimLedgerBefore(9000).ok());
  EXPECT_EQ(wal_->first_ledger_seq(), 9000u);
  auto raw = base_->GetRange("pbft_ledger/", "pbft_ledger0");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 1001u);
  Reopen();
  EXPECT_EQ(wal_->first_ledger_seq(), 9000u);
  EXPECT_EQ(wal_->last_committed(), 10000u);
}

TEST_F(PbftWalTest, EmptyWriteIsANoOp) {
  ASSERT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, Committed{}).ok());
  auto raw = base_->GetRange("", "");
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE(raw->empty());
}

// Damages the record at `key` of the WAL's view and expects Open to report it.
class PbftWalCorruptionTest : public PbftWalTest,
                              public ::testing::WithParamInterface<std::string> {};

TEST_P(PbftWalCorruptionTest, CorruptRecordFailsOpenWithDataLossNamingTheKey) {
  ASSERT_TRUE(wal_->Write(View(1, true), {Slot(4, 1, true)}, Stable(2), Batches(1, 3)).ok());
  wal_.reset();

  const std::string key = GetParam();
  auto value = storage_->Get(key);
  ASSERT_TRUE(value.ok()) << value.status();
  std::string damaged = *value;
  damaged[0] ^= 0x5a;
  ASSERT_TRUE(base_->Put(absl::StrCat(kPbftPrefix, key), damaged).ok());

  auto wal = PbftWal::Open(storage_.get(), /*sync=*/true);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(absl::IsDataLoss(wal.status())) << wal.status();
  EXPECT_NE(wal.status().message().find(DescribeKey(key)), std::string::npos) << wal.status();

  // A truncated record fails the same way.
  ASSERT_TRUE(base_->Put(absl::StrCat(kPbftPrefix, key), "ab").ok());
  EXPECT_TRUE(absl::IsDataLoss(PbftWal::Open(storage_.get(), true).status()));
}

INSTANTIATE_TEST_SUITE_P(EveryRecordKind, PbftWalCorruptionTest,
                         ::testing::Values("meta", "view", "stable", IndexKey("slot/", 4),
                                           IndexKey("ledger/", 1), IndexKey("ledger/", 3)));

TEST_F(PbftWalTest, MissingMetadataWithLedgerEntriesIsDataLoss) {
  ASSERT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, Batches(1, 2)).ok());
  wal_.reset();
  ASSERT_TRUE(storage_->Delete("meta").ok());
  auto wal = PbftWal::Open(storage_.get(), true);
  EXPECT_TRUE(absl::IsDataLoss(wal.status())) << wal.status();
  EXPECT_NE(wal.status().message().find("\"meta\""), std::string::npos) << wal.status();
}

TEST_F(PbftWalTest, MissingLedgerEntryIsDataLossWhenRead) {
  ASSERT_TRUE(wal_->Write(std::nullopt, {}, std::nullopt, Batches(1, 5)).ok());
  ASSERT_TRUE(storage_->Delete(IndexKey("ledger/", 3)).ok());
  EXPECT_TRUE(absl::IsDataLoss(wal_->ReadBatch(3).status()));
  EXPECT_TRUE(absl::IsDataLoss(wal_->ReadLedger(2, 10, 1 << 20).status()));
  EXPECT_TRUE(absl::IsDataLoss(wal_->ReadLedger(3, 10, 1 << 20).status()));
}

TEST_F(PbftWalTest, ReadsDuringWritesAndTrimsSeeAContiguousLedger) {
  constexpr uint64_t kLast = 3000;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      uint64_t from = wal_->first_ledger_seq();
      auto batches = wal_->ReadLedger(from, 50, 1 << 20);
      ASSERT_TRUE(batches.ok()) << batches.status();
      for (size_t i = 0; i < batches->size(); ++i) {
        ASSERT_EQ((*batches)[i].seq(), from + i);
      }
      if (from != 0) {
        absl::StatusOr<std::string> data = wal_->ReadBatch(from);
        ASSERT_TRUE(data.ok() || absl::IsNotFound(data.status())) << data.status();
      }
    }
  });
  // Failures end the loop rather than return, so the reader is always joined.
  for (uint64_t seq = 1; seq <= kLast; ++seq) {
    absl::Status status =
        wal_->Write(std::nullopt, {Slot(seq + 1, 0, false)}, std::nullopt, Batches(seq, seq));
    if (status.ok() && seq % 100 == 0) status = wal_->TrimLedgerBefore(seq - 20);
    if (!status.ok()) {
      ADD_FAILURE() << status;
      break;
    }
  }
  done = true;
  reader.join();
  EXPECT_EQ(wal_->last_committed(), kLast);
  EXPECT_EQ(wal_->first_ledger_seq(), kLast - 20);
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
