#include "platform/consensus/execution/transaction_manager.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace {

// Answers each payload with "done:<payload>" and remembers what it saw.
class EchoManager : public TransactionManager {
 public:
  std::unique_ptr<std::string> ExecuteData(const std::string& request) override {
    seen.push_back(request);
    return std::make_unique<std::string>("done:" + request);
  }
  std::vector<std::string> seen;
};

TEST(TransactionManagerTest, DefaultExecuteBatchRunsEveryRequestInOrder) {
  EchoManager manager;
  BatchUserRequest batch;
  for (const char* data : {"a", "b", "c"}) batch.add_requests()->set_data(data);

  std::unique_ptr<BatchUserResponse> response = manager.ExecuteBatch(batch);

  ASSERT_NE(response, nullptr);
  ASSERT_EQ(response->responses_size(), 3);
  EXPECT_EQ(response->responses(0), "done:a");
  EXPECT_EQ(response->responses(1), "done:b");
  EXPECT_EQ(response->responses(2), "done:c");
  EXPECT_EQ(manager.seen, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(TransactionManagerTest, EmptyBatchYieldsNoResponses) {
  EchoManager manager;
  std::unique_ptr<BatchUserResponse> response = manager.ExecuteBatch(BatchUserRequest());
  ASSERT_NE(response, nullptr);
  EXPECT_EQ(response->responses_size(), 0);
  EXPECT_TRUE(manager.seen.empty());
}

TEST(TransactionManagerTest, DefaultQueryIsUnsupported) {
  EchoManager manager;
  EXPECT_EQ(manager.Query("anything"), nullptr);
  EXPECT_TRUE(manager.seen.empty());
}

}  // namespace
}  // namespace resdb
