#include "platform/storage/storage.h"

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefixed_storage.h"
#include "platform/storage/scoped_temp_dir.h"

namespace resdb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

enum class Backend { kMemory, kLevelDB, kPrefixedMemory, kPrefixedLevelDB };

std::string BackendName(const testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kMemory:
      return "Memory";
    case Backend::kLevelDB:
      return "LevelDB";
    case Backend::kPrefixedMemory:
      return "PrefixedMemory";
    case Backend::kPrefixedLevelDB:
      return "PrefixedLevelDB";
  }
  return "Unknown";
}

constexpr absl::string_view kViewPrefix = "view_";

// Keys of the base just outside the view's range on both sides, in ascending order; a view
// must never see or change them.
KeyValues Neighbours() {
  return {{std::string("\x00", 1), "low"},
          {"view", "below"},
          {"view^", "just below"},
          {"view`", "just above"},
          {"viex", "other"},
          {"\xff"
           "base",
           "reserved"}};
}

KeyValues ScanAll(Storage* storage, absl::string_view begin = "", absl::string_view end = "") {
  absl::StatusOr<KeyValues> range = storage->GetRange(begin, end);
  EXPECT_TRUE(range.ok()) << range.status();
  return range.ok() ? *std::move(range) : KeyValues();
}

// Every test runs against each backend, and against a PrefixedStorage view over each whose base
// also holds keys just outside the view's prefix.
class StorageTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    const bool leveldb = GetParam() == Backend::kLevelDB || GetParam() == Backend::kPrefixedLevelDB;
    if (leveldb) {
      dir_ = std::make_unique<ScopedTempDir>();
      absl::StatusOr<std::unique_ptr<Storage>> opened = OpenLevelDBStorage(dir_->path() + "/db");
      ASSERT_TRUE(opened.ok()) << opened.status();
      base_ = *std::move(opened);
    } else {
      base_ = NewMemoryStorage();
    }
    storage_ = base_.get();
    if (GetParam() == Backend::kPrefixedMemory || GetParam() == Backend::kPrefixedLevelDB) {
      WriteBatch seed;
      for (const auto& [key, value] : Neighbours()) seed.Put(key, value);
      ASSERT_TRUE(base_->Write(seed, false).ok());
      view_ = std::make_unique<PrefixedStorage>(base_.get(), kViewPrefix);
      storage_ = view_.get();
    }
  }

  void TearDown() override {
    if (view_ != nullptr) {
      KeyValues outside;
      for (auto& kv : ScanAll(base_.get())) {
        if (!absl::StartsWith(kv.first, kViewPrefix)) outside.push_back(kv);
      }
      EXPECT_EQ(outside, Neighbours()) << "the view changed keys outside its prefix";
    }
    view_.reset();
    base_.reset();
    dir_.reset();
  }

  Storage* storage_ = nullptr;

 private:
  std::unique_ptr<ScopedTempDir> dir_;
  std::unique_ptr<Storage> base_;
  std::unique_ptr<Storage> view_;
};

TEST_P(StorageTest, PutGetOverwriteDelete) {
  ASSERT_TRUE(storage_->Put("alpha", "1").ok());
  EXPECT_EQ(storage_->Get("alpha").value_or("<missing>"), "1");
  ASSERT_TRUE(storage_->Put("alpha", "2", /*sync=*/true).ok());
  EXPECT_EQ(storage_->Get("alpha").value_or("<missing>"), "2");
  ASSERT_TRUE(storage_->Delete("alpha").ok());
  EXPECT_TRUE(absl::IsNotFound(storage_->Get("alpha").status()));
  EXPECT_TRUE(storage_->Delete("never-written").ok());
}

TEST_P(StorageTest, MissingKeyIsNotFound) {
  absl::StatusOr<std::string> value = storage_->Get("missing");
  EXPECT_TRUE(absl::IsNotFound(value.status())) << value.status();
}

TEST_P(StorageTest, EmptyValueIsStoredAndDistinctFromMissing) {
  ASSERT_TRUE(storage_->Put("empty", "").ok());
  absl::StatusOr<std::string> value = storage_->Get("empty");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "");
}

TEST_P(StorageTest, BatchAppliesPutsAndDeletesInOrder) {
  ASSERT_TRUE(storage_->Put("doomed", "x").ok());
  ASSERT_TRUE(storage_->Put("kept", "old").ok());

  WriteBatch batch;
  batch.Put("a", "1");
  batch.Put("b", "2");
  batch.Delete("doomed");
  batch.Put("kept", "new");
  batch.Put("transient", "t");
  batch.Delete("transient");
  batch.Delete("revived");
  batch.Put("revived", "r");
  EXPECT_EQ(batch.size(), 8u);
  EXPECT_FALSE(batch.empty());
  ASSERT_TRUE(storage_->Write(batch, /*sync=*/true).ok());

  EXPECT_THAT(
      ScanAll(storage_, "", "\xff"),
      ElementsAre(Pair("a", "1"), Pair("b", "2"), Pair("kept", "new"), Pair("revived", "r")));
}

TEST_P(StorageTest, WriteBatchTracksSizeAndClears) {
  WriteBatch batch;
  EXPECT_TRUE(batch.empty());
  batch.Put("key", "value");
  batch.Delete("gone");
  EXPECT_EQ(batch.ByteSize(), 3u + 5u + 4u);
  ASSERT_EQ(batch.ops().size(), 2u);
  EXPECT_FALSE(batch.ops()[0].is_delete);
  EXPECT_TRUE(batch.ops()[1].is_delete);
  batch.Clear();
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.ByteSize(), 0u);
  ASSERT_TRUE(storage_->Write(batch, false).ok());
  EXPECT_TRUE(ScanAll(storage_, "", "\xff").empty());
}

// A reader scanning while a writer applies multi-key batches must only ever observe whole
// batches: both halves of the pair equal and exactly one marker naming the same round.
TEST_P(StorageTest, ConcurrentReadersNeverSeeHalfAppliedBatch) {
  constexpr int kRounds = 300;
  auto round_name = [](int round) { return absl::StrCat(100000 + round); };
  {
    WriteBatch first;
    first.Put("pair_a", round_name(0));
    first.Put("pair_b", round_name(0));
    first.Put("marker_" + round_name(0), round_name(0));
    ASSERT_TRUE(storage_->Write(first, false).ok());
  }

  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int round = 1; round <= kRounds; ++round) {
      WriteBatch batch;
      batch.Put("pair_a", round_name(round));
      batch.Delete("marker_" + round_name(round - 1));
      batch.Put("marker_" + round_name(round), round_name(round));
      batch.Put("pair_b", round_name(round));
      absl::Status status = storage_->Write(batch, false);
      if (!status.ok()) {
        ADD_FAILURE() << status;
        break;
      }
    }
    done = true;
  });

  bool finished = false;
  bool consistent = true;
  while (!finished && consistent) {
    finished = done.load();  // one more scan after the writer is done sees the final state
    KeyValues all = ScanAll(storage_, "", "\xff");
    consistent = all.size() == 3 && all[0].first == "marker_" + all[0].second &&
                 all[1] == std::make_pair(std::string("pair_a"), all[0].second) &&
                 all[2] == std::make_pair(std::string("pair_b"), all[0].second);
    EXPECT_TRUE(consistent) << testing::PrintToString(all);
  }
  writer.join();
  EXPECT_EQ(storage_->Get("pair_a").value_or(""), round_name(kRounds));
}

TEST_P(StorageTest, ScanOrdersBinaryKeysAsUnsignedBytes) {
  const std::vector<std::string> sorted = {std::string(),
                                           std::string("\x00", 1),
                                           std::string("\x00\x00", 2),
                                           std::string("\x00\x01", 2),
                                           "\x01",
                                           "a",
                                           "ab",
                                           "\x7f",
                                           "\x80",
                                           std::string("\x80\x00", 2),
                                           "\x80\xff",
                                           "\xfe"};
  // Insert in an order unrelated to the expected one; the value names the sorted position.
  for (size_t i = 0; i < sorted.size(); ++i) {
    const size_t position = (i * 5) % sorted.size();
    ASSERT_TRUE(storage_->Put(sorted[position], absl::StrCat("v", position)).ok());
  }

  std::vector<std::string> keys;
  ASSERT_TRUE(storage_
                  ->Scan("", "\xff",
                         [&](absl::string_view key, absl::string_view) {
                           keys.emplace_back(key);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(keys, sorted);

  // begin is inclusive and end exclusive, also for keys with embedded zero bytes.
  EXPECT_THAT(
      ScanAll(storage_, std::string("\x00\x00", 2), std::string("\x80\x00", 2)),
      ElementsAre(Pair(std::string("\x00\x00", 2), "v2"), Pair(std::string("\x00\x01", 2), "v3"),
                  Pair("\x01", "v4"), Pair("a", "v5"), Pair("ab", "v6"), Pair("\x7f", "v7"),
                  Pair("\x80", "v8")));
  // An empty end runs to the last key (of the view, for prefixed storage).
  EXPECT_THAT(ScanAll(storage_, "\x80\x01"),
              ElementsAre(Pair("\x80\xff", "v10"), Pair("\xfe", "v11")));
  // begin >= end yields nothing.
  EXPECT_TRUE(ScanAll(storage_, "b", "a").empty());
  EXPECT_TRUE(ScanAll(storage_, "a", "a").empty());
}

TEST_P(StorageTest, ScanStopsWhenVisitorReturnsFalse) {
  for (const char* key : {"k1", "k2", "k3", "k4"}) ASSERT_TRUE(storage_->Put(key, key).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(storage_
                  ->Scan("k", "l",
                         [&](absl::string_view key, absl::string_view) {
                           seen.emplace_back(key);
                           return seen.size() < 2;
                         })
                  .ok());
  EXPECT_THAT(seen, ElementsAre("k1", "k2"));
}

TEST_P(StorageTest, ScanSeesSnapshotTakenAtStart) {
  for (const char* key : {"k1", "k2", "k3", "k4"}) ASSERT_TRUE(storage_->Put(key, "old").ok());
  KeyValues seen;
  ASSERT_TRUE(storage_
                  ->Scan("k", "l",
                         [&](absl::string_view key, absl::string_view value) {
                           if (seen.empty()) {
                             // Writes made during the scan must not be visible to it.
                             EXPECT_TRUE(storage_->Put("k2", "new").ok());
                             EXPECT_TRUE(storage_->Put("k25", "inserted").ok());
                             EXPECT_TRUE(storage_->Delete("k3").ok());
                             EXPECT_TRUE(storage_->Put("k5", "appended").ok());
                           }
                           seen.emplace_back(std::string(key), std::string(value));
                           return true;
                         })
                  .ok());
  EXPECT_THAT(seen, ElementsAre(Pair("k1", "old"), Pair("k2", "old"), Pair("k3", "old"),
                                Pair("k4", "old")));
  EXPECT_THAT(ScanAll(storage_, "k", "l"),
              ElementsAre(Pair("k1", "old"), Pair("k2", "new"), Pair("k25", "inserted"),
                          Pair("k4", "old"), Pair("k5", "appended")));
}

TEST_P(StorageTest, SnapshotKeepsItsViewAcrossScansWhileWritesGoOn) {
  for (const char* key : {"k1", "k2", "k3"}) ASSERT_TRUE(storage_->Put(key, "old").ok());
  std::unique_ptr<StorageSnapshot> snapshot = storage_->NewSnapshot();
  ASSERT_NE(snapshot, nullptr);
  ASSERT_TRUE(storage_->Put("k2", "new").ok());
  ASSERT_TRUE(storage_->Delete("k3").ok());
  ASSERT_TRUE(storage_->Put("k4", "added").ok());

  auto scan = [&](absl::string_view begin, absl::string_view end) {
    KeyValues seen;
    EXPECT_TRUE(snapshot
                    ->Scan(begin, end,
                           [&](absl::string_view key, absl::string_view value) {
                             seen.emplace_back(std::string(key), std::string(value));
                             return true;
                           })
                    .ok());
    return seen;
  };
  // Two scans of one snapshot, before and after more writes, see the same state, with the
  // keys as the storage itself names them.
  EXPECT_THAT(scan("k", "l"), ElementsAre(Pair("k1", "old"), Pair("k2", "old"), Pair("k3", "old")));
  ASSERT_TRUE(storage_->Put("k1", "newer").ok());
  EXPECT_THAT(scan("k2", ""), ElementsAre(Pair("k2", "old"), Pair("k3", "old")));
  EXPECT_THAT(ScanAll(storage_, "k", "l"),
              ElementsAre(Pair("k1", "newer"), Pair("k2", "new"), Pair("k4", "added")));
}

TEST_P(StorageTest, GetRangeHonoursBoundsAndLimit) {
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(storage_->Put(absl::StrCat("k", i), absl::StrCat(i)).ok());

  EXPECT_THAT(*storage_->GetRange("k2", "k8", 3),
              ElementsAre(Pair("k2", "2"), Pair("k3", "3"), Pair("k4", "4")));
  EXPECT_EQ(storage_->GetRange("k2", "k8")->size(), 6u);
  EXPECT_THAT(*storage_->GetRange("k7", ""),
              ElementsAre(Pair("k7", "7"), Pair("k8", "8"), Pair("k9", "9")));
  EXPECT_THAT(*storage_->GetRange("k85", "", 1), ElementsAre(Pair("k9", "9")));
  EXPECT_TRUE(storage_->GetRange("x", "")->empty());
}

TEST_P(StorageTest, VersionedSetGetAndCompareAndSwap) {
  EXPECT_TRUE(absl::IsNotFound(storage_->GetWithVersion("config").status()));

  absl::StatusOr<uint64_t> v1 = storage_->SetWithVersion("config", "one", 0);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, 1u);
  EXPECT_EQ(storage_->Get("config").value_or(""), "one");

  absl::StatusOr<uint64_t> stale = storage_->SetWithVersion("config", "stale", 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(stale.status())) << stale.status();
  EXPECT_THAT(stale.status().message(), HasSubstr("version 1"));
  EXPECT_TRUE(absl::IsFailedPrecondition(storage_->SetWithVersion("config", "x", 5).status()));

  absl::StatusOr<uint64_t> v2 = storage_->SetWithVersion("config", "two", 1, /*sync=*/true);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(*v2, 2u);
  EXPECT_EQ(storage_->Get("config").value_or(""), "two");

  absl::StatusOr<VersionedValue> latest = storage_->GetWithVersion("config");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->value, "two");
  EXPECT_EQ(latest->version, 2u);
  absl::StatusOr<VersionedValue> first = storage_->GetWithVersion("config", 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->value, "one");
  EXPECT_EQ(first->version, 1u);
  EXPECT_TRUE(absl::IsNotFound(storage_->GetWithVersion("config", 3).status()));

  absl::StatusOr<std::vector<VersionedValue>> history = storage_->GetHistory("config");
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].value, "one");
  EXPECT_EQ((*history)[1].value, "two");
  EXPECT_EQ((*history)[1].version, 2u);

  // The bookkeeping is invisible to scans of user keys.
  EXPECT_THAT(ScanAll(storage_, "", "\xff"), ElementsAre(Pair("config", "two")));
}

TEST_P(StorageTest, VersionHistoriesOfKeysSharingAPrefixStayApart) {
  ASSERT_TRUE(storage_->SetWithVersion("a", "a1", 0).ok());
  ASSERT_TRUE(storage_->SetWithVersion("ab", "ab1", 0).ok());
  ASSERT_TRUE(storage_->SetWithVersion("ab", "ab2", 1).ok());
  EXPECT_EQ(storage_->GetHistory("a")->size(), 1u);
  EXPECT_EQ(storage_->GetHistory("ab")->size(), 2u);
  EXPECT_EQ(storage_->GetWithVersion("a")->value, "a1");
  EXPECT_TRUE(absl::IsNotFound(storage_->GetWithVersion("a", 2).status()));
}

TEST_P(StorageTest, PlainPutDoesNotCreateVersions) {
  ASSERT_TRUE(storage_->Put("plain", "v").ok());
  EXPECT_TRUE(absl::IsNotFound(storage_->GetWithVersion("plain").status()));
  EXPECT_TRUE(storage_->GetHistory("plain")->empty());
}

TEST_P(StorageTest, HistoryIsTrimmedToTheWindow) {
  const uint64_t kWrites = Storage::kMaxVersionHistory + 5;
  for (uint64_t v = 0; v < kWrites; ++v) {
    absl::StatusOr<uint64_t> next = storage_->SetWithVersion("k", absl::StrCat("value", v + 1), v);
    ASSERT_TRUE(next.ok()) << next.status();
    ASSERT_EQ(*next, v + 1);
  }

  absl::StatusOr<std::vector<VersionedValue>> history = storage_->GetHistory("k");
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), Storage::kMaxVersionHistory);
  const uint64_t oldest_kept = kWrites - Storage::kMaxVersionHistory + 1;
  for (size_t i = 0; i < history->size(); ++i) {
    EXPECT_EQ((*history)[i].version, oldest_kept + i);
    EXPECT_EQ((*history)[i].value, absl::StrCat("value", oldest_kept + i));
  }

  absl::StatusOr<VersionedValue> trimmed = storage_->GetWithVersion("k", oldest_kept - 1);
  EXPECT_TRUE(absl::IsNotFound(trimmed.status())) << trimmed.status();
  EXPECT_TRUE(absl::IsNotFound(storage_->GetWithVersion("k", 1).status()));
  EXPECT_EQ(storage_->GetWithVersion("k", oldest_kept)->value, absl::StrCat("value", oldest_kept));
  EXPECT_EQ(storage_->GetWithVersion("k")->version, kWrites);

  // Bounds are inclusive and clipped to what is kept.
  absl::StatusOr<std::vector<VersionedValue>> window =
      storage_->GetHistory("k", oldest_kept - 3, oldest_kept + 1);
  ASSERT_TRUE(window.ok()) << window.status();
  ASSERT_EQ(window->size(), 2u);
  EXPECT_EQ((*window)[0].version, oldest_kept);
  EXPECT_EQ((*window)[1].version, oldest_kept + 1);
  EXPECT_EQ(storage_->GetHistory("k", kWrites, 0)->size(), 1u);
  EXPECT_TRUE(storage_->GetHistory("k", 9, 8)->empty());
}

// Two writers holding the same expected version race; exactly one may win each round.
TEST_P(StorageTest, ConcurrentSetWithVersionHasExactlyOneWinner) {
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    std::promise<void> start;
    std::shared_future<void> go = start.get_future().share();
    absl::StatusOr<uint64_t> results[2];
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        go.wait();
        results[w] = storage_->SetWithVersion("contended", absl::StrCat("writer", w), round);
      });
    }
    start.set_value();
    for (std::thread& t : writers) t.join();

    const int winners = results[0].ok() + results[1].ok();
    ASSERT_EQ(winners, 1) << "round " << round << ": " << results[0].status() << " / "
                          << results[1].status();
    const int winner = results[0].ok() ? 0 : 1;
    EXPECT_EQ(*results[winner], static_cast<uint64_t>(round + 1));
    EXPECT_TRUE(absl::IsFailedPrecondition(results[1 - winner].status()));
    EXPECT_EQ(storage_->Get("contended").value_or(""), absl::StrCat("writer", winner));
  }
  EXPECT_EQ(storage_->GetWithVersion("contended")->version, static_cast<uint64_t>(kRounds));
}

TEST_P(StorageTest, ReservedKeysAreRejectedByWrappers) {
  const std::string reserved =
      "\xff"
      "meta";
  absl::Status put = storage_->Put(reserved, "v");
  EXPECT_TRUE(absl::IsInvalidArgument(put)) << put;
  EXPECT_THAT(put.message(), HasSubstr("reserved"));
  EXPECT_TRUE(absl::IsInvalidArgument(storage_->Delete("\xff")));
  EXPECT_TRUE(absl::IsInvalidArgument(storage_->SetWithVersion(reserved, "v", 0).status()));
  EXPECT_TRUE(absl::IsNotFound(storage_->Get(reserved).status()));

  // The byte below 0xFF is an ordinary key.
  EXPECT_TRUE(storage_->Put("\xfe", "ok").ok());
  EXPECT_TRUE(storage_->Delete("\xfe").ok());

  // Write is the raw primitive and accepts reserved keys.
  WriteBatch raw;
  raw.Put(reserved, "raw");
  ASSERT_TRUE(storage_->Write(raw, false).ok());
  EXPECT_EQ(storage_->Get(reserved).value_or(""), "raw");
}

TEST_P(StorageTest, FlushSucceeds) {
  ASSERT_TRUE(storage_->Put("k", "v").ok());
  EXPECT_TRUE(storage_->Flush().ok());
  EXPECT_EQ(storage_->Get("k").value_or(""), "v");
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StorageTest,
                         testing::Values(Backend::kMemory, Backend::kLevelDB,
                                         Backend::kPrefixedMemory, Backend::kPrefixedLevelDB),
                         BackendName);

}  // namespace
}  // namespace resdb
