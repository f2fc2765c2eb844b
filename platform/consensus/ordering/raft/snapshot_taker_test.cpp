#include "platform/consensus/ordering/raft/snapshot_taker.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "gtest/gtest.h"
#include "platform/consensus/execution/state_image.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace raft {
namespace {

// Waits for the taker's result.
class ResultBox {
 public:
  SnapshotTaker::DoneFn Fn() {
    return [this](SnapshotTaker::Result result) {
      std::lock_guard<std::mutex> lock(mu_);
      result_ = result;
      cv_.notify_all();
    };
  }
  SnapshotTaker::Result Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return result_.has_value(); }));
    return result_.value_or(SnapshotTaker::Result());
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<SnapshotTaker::Result> result_;
};

class SnapshotTakerTest : public testing::Test {
 protected:
  void SetUp() override {
    storage_ = NewMemoryStorage();
    snapshot_storage_ = NewMemoryStorage();
    snapshots_ = *RaftSnapshotManager::Open(snapshot_storage_.get(), 1024);
  }
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Storage> snapshot_storage_;
  std::unique_ptr<RaftSnapshotManager> snapshots_;
};

TEST_F(SnapshotTakerTest, DueOnceTheLogGrewByTheThresholdAndOneAtATime) {
  SnapshotTaker taker(snapshots_.get(), {"user_"}, /*threshold=*/10);
  EXPECT_FALSE(taker.Due(9, 0));
  EXPECT_TRUE(taker.Due(10, 0));
  EXPECT_FALSE(taker.Due(11, 0));  // busy until Finished
  taker.Finished();
  EXPECT_FALSE(taker.Due(15, 10));
  EXPECT_TRUE(taker.Due(20, 10));
  SnapshotTaker never(snapshots_.get(), {"user_"}, /*threshold=*/0);
  EXPECT_FALSE(never.Due(1000000, 0));
}

TEST_F(SnapshotTakerTest, CompactionKeepsATailOfEntries) {
  SnapshotTaker taker(snapshots_.get(), {"user_"}, 10, /*log_tail=*/3);
  EXPECT_EQ(taker.CompactionPoint(10), 7u);
  EXPECT_EQ(taker.CompactionPoint(3), 0u);
  SnapshotTaker no_tail(snapshots_.get(), {"user_"}, 10);
  EXPECT_EQ(no_tail.CompactionPoint(10), 10u);
}

TEST_F(SnapshotTakerTest, SavesTheStateAsOfTheCaptureWithItsMembership) {
  ASSERT_TRUE(storage_->Put("user_a", "1").ok());
  ASSERT_TRUE(storage_->Put("other_b", "2").ok());
  SnapshotTaker taker(snapshots_.get(), {"user_"}, 1);
  ASSERT_TRUE(taker.Due(7, 0));
  std::shared_ptr<StorageSnapshot> state = storage_->NewSnapshot();
  ASSERT_TRUE(storage_->Put("user_a", "changed after the capture").ok());
  Membership membership;
  membership.add_voters(1);
  membership.add_voters(2);
  ResultBox box;
  taker.Save(state, 7, 3, membership, box.Fn());
  const SnapshotTaker::Result result = box.Wait();
  EXPECT_TRUE(result.saved);
  EXPECT_EQ(result.index, 7u);
  EXPECT_EQ(result.term, 3u);

  const std::optional<SnapshotMetadata> current = snapshots_->Current();
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->last_included_index(), 7u);
  EXPECT_EQ(current->last_included_term(), 3u);
  EXPECT_EQ(current->membership().voters_size(), 2);
  // The image holds the prefixed state as it was captured, nothing else.
  std::unique_ptr<Storage> restored = NewMemoryStorage();
  ASSERT_TRUE(InstallStateImage(restored.get(), {"user_"}, *snapshots_->ReadAll(), false).ok());
  EXPECT_EQ(*restored->Get("user_a"), "1");
  EXPECT_FALSE(restored->Get("other_b").ok());
}

TEST_F(SnapshotTakerTest, ANewerSnapshotAlreadyCurrentIsKept) {
  SnapshotMetadata installed;
  installed.set_last_included_index(9);
  installed.set_last_included_term(4);
  ASSERT_TRUE(snapshots_->Save(installed, "image").ok());
  SnapshotTaker taker(snapshots_.get(), {"user_"}, 1);
  ResultBox box;
  taker.Save(storage_->NewSnapshot(), 7, 3, Membership(), box.Fn());
  EXPECT_FALSE(box.Wait().saved);
  EXPECT_EQ(snapshots_->Current()->last_included_index(), 9u);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
