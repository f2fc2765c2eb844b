#include "platform/consensus/execution/applied_request_table.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace {

// Answers "r<n>" for the n-th request it executes and remembers what it executed.
class CountingManager : public TransactionManager {
 public:
  explicit CountingManager(std::vector<std::string>* executed) : executed_(executed) {}
  std::unique_ptr<std::string> ExecuteData(const std::string& request) override {
    executed_->push_back(request);
    return std::make_unique<std::string>("r" + std::to_string(executed_->size()));
  }

 private:
  std::vector<std::string>* executed_;
};

UserRequest Make(uint64_t client, uint64_t id, const std::string& data) {
  UserRequest request;
  request.set_client_id(client);
  request.set_request_id(id);
  request.set_data(data);
  return request;
}

TEST(AppliedRequestTableTest, RetriesApplyOnceAndGetTheFirstResponse) {
  AppliedRequestTable table;
  Stats stats;
  std::vector<std::string> executed;
  DedupTransactionManager manager(std::make_unique<CountingManager>(&executed), &table, &stats);

  BatchUserRequest first;
  *first.add_requests() = Make(1, 1, "a");
  *first.add_requests() = Make(2, 1, "b");
  *first.add_requests() = Make(1, 1, "a");  // the same request twice in one batch
  auto responses = manager.ExecuteBatch(first);
  ASSERT_EQ(responses->responses_size(), 3);
  EXPECT_EQ(responses->responses(0), "r1");
  EXPECT_EQ(responses->responses(1), "r2");
  EXPECT_EQ(responses->responses(2), "r1");

  BatchUserRequest second;
  *second.add_requests() = Make(2, 1, "b");  // a retry committed again later
  *second.add_requests() = Make(2, 2, "c");
  *second.add_requests() = Make(0, 0, "anonymous");
  responses = manager.ExecuteBatch(second);
  ASSERT_EQ(responses->responses_size(), 3);
  EXPECT_EQ(responses->responses(0), "r2");
  EXPECT_EQ(responses->responses(1), "r3");
  EXPECT_EQ(responses->responses(2), "r4");
  EXPECT_EQ(executed, (std::vector<std::string>{"a", "b", "c", "anonymous"}));
  EXPECT_EQ(stats.CounterValue("executor_duplicate_requests"), 2u);
  EXPECT_EQ(table.Lookup(2, 2).value_or(""), "r3");
  EXPECT_FALSE(table.Lookup(2, 3).has_value());
}

TEST(AppliedRequestTableTest, FlushAndLoadRestoreTheTableAndAppliedIndex) {
  auto storage = NewMemoryStorage();
  AppliedRequestTable table;
  table.BeginBatch();
  table.Record(5, 1, "one");
  table.Record(5, 2, "two");
  table.Record(6, 9, "nine");
  WriteBatch batch;
  table.Flush(17, &batch);
  ASSERT_TRUE(storage->Write(batch, false).ok());

  AppliedRequestTable loaded;
  ASSERT_TRUE(loaded.Load(storage.get()).ok());
  EXPECT_EQ(loaded.applied_index(), 17u);
  EXPECT_EQ(loaded.client_count(), 2u);
  EXPECT_EQ(loaded.Lookup(5, 2).value_or(""), "two");
  EXPECT_EQ(loaded.Lookup(6, 9).value_or(""), "nine");

  AppliedRequestTable empty;
  auto nothing = NewMemoryStorage();
  ASSERT_TRUE(empty.Load(nothing.get()).ok());
  EXPECT_EQ(empty.applied_index(), 0u);
}

TEST(AppliedRequestTableTest, DamagedRecordIsDataLoss) {
  auto storage = NewMemoryStorage();
  ASSERT_TRUE(storage->Put("applied_index", "short").ok());
  AppliedRequestTable table;
  EXPECT_EQ(table.Load(storage.get()).code(), absl::StatusCode::kDataLoss);
}

TEST(AppliedRequestTableTest, BoundsPerClientAndForgetsTheLeastRecentClient) {
  auto storage = NewMemoryStorage();
  AppliedRequestTable table(/*per_client=*/2, /*max_clients=*/2);
  table.BeginBatch();
  table.Record(1, 1, "a");
  table.Record(1, 2, "b");
  table.Record(1, 3, "c");
  EXPECT_FALSE(table.Lookup(1, 1).has_value());
  EXPECT_TRUE(table.Lookup(1, 3).has_value());
  table.BeginBatch();
  table.Record(2, 1, "x");
  table.BeginBatch();
  table.Record(3, 1, "y");  // client 1 is the least recent
  EXPECT_EQ(table.client_count(), 2u);
  EXPECT_FALSE(table.Lookup(1, 3).has_value());
  WriteBatch batch;
  table.Flush(3, &batch);
  ASSERT_TRUE(storage->Write(batch, false).ok());
  AppliedRequestTable loaded(2, 2);
  ASSERT_TRUE(loaded.Load(storage.get()).ok());
  EXPECT_EQ(loaded.client_count(), 2u);
  EXPECT_TRUE(loaded.Lookup(3, 1).has_value());
}

}  // namespace
}  // namespace resdb
