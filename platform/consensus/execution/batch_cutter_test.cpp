#include "platform/consensus/execution/batch_cutter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace {

std::vector<UserRequest> Requests(const std::vector<size_t>& sizes) {
  std::vector<UserRequest> requests;
  for (size_t i = 0; i < sizes.size(); ++i) {
    UserRequest request;
    request.set_data(std::string(sizes[i], 'x'));
    request.set_client_id(7);
    request.set_request_id(i + 1);
    requests.push_back(request);
  }
  return requests;
}

// The batches [begin, end) the cutter makes of `requests`.
std::vector<std::pair<size_t, size_t>> Cut(const BatchCutter& cutter,
                                           const std::vector<UserRequest>& requests) {
  std::vector<std::pair<size_t, size_t>> batches;
  for (size_t begin = 0; begin < requests.size();) {
    const size_t end = cutter.End(requests, begin);
    batches.emplace_back(begin, end);
    begin = end;
  }
  return batches;
}

TEST(BatchCutterTest, CutsByCount) {
  BatchCutter cutter(2, 1 << 20);
  using Batches = std::vector<std::pair<size_t, size_t>>;
  EXPECT_EQ(Cut(cutter, Requests({10, 10, 10, 10, 10})), (Batches{{0, 2}, {2, 4}, {4, 5}}));
}

// A few large requests no longer make one entry bigger than a replica message.
TEST(BatchCutterTest, CutsByBytesAndEveryBatchSerializesWithinTheBound) {
  const size_t max_bytes = 4 << 20;
  BatchCutter cutter(100, max_bytes);
  const std::vector<UserRequest> requests =
      Requests({1500000, 1500000, 1500000, 10, 10, 3000000, 1500000, 4000000});
  using Batches = std::vector<std::pair<size_t, size_t>>;
  const Batches batches = Cut(cutter, requests);
  EXPECT_EQ(batches, (Batches{{0, 2}, {2, 5}, {5, 6}, {6, 7}, {7, 8}}));
  for (const auto& [begin, end] : batches) {
    BatchUserRequest batch;
    for (size_t i = begin; i < end; ++i) *batch.add_requests() = requests[i];
    EXPECT_LE(batch.ByteSizeLong(), max_bytes) << begin;
  }
}

TEST(BatchCutterTest, ARequestAboveTheBoundStillMakesABatchOfItsOwn) {
  BatchCutter cutter(100, 1000);
  using Batches = std::vector<std::pair<size_t, size_t>>;
  EXPECT_EQ(Cut(cutter, Requests({10, 5000, 10})), (Batches{{0, 1}, {1, 2}, {2, 3}}));
}

}  // namespace
}  // namespace resdb
