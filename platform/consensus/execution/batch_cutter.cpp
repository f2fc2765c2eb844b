#include "platform/consensus/execution/batch_cutter.h"

#include <algorithm>

namespace resdb {
namespace {

// What one request adds to a serialized BatchUserRequest beyond its own bytes: the field's
// tag and length prefix.
constexpr size_t kPerRequestOverhead = 6;

}  // namespace

BatchCutter::BatchCutter(size_t max_requests, size_t max_bytes)
    : max_requests_(std::max<size_t>(1, max_requests)), max_bytes_(max_bytes) {}

size_t BatchCutter::End(const std::vector<UserRequest>& requests, size_t begin) const {
  size_t end = begin;
  size_t bytes = 0;
  while (end < requests.size() && end - begin < max_requests_) {
    const size_t size = requests[end].ByteSizeLong() + kPerRequestOverhead;
    if (end > begin && bytes + size > max_bytes_) break;
    bytes += size;
    ++end;
  }
  return end;
}

}  // namespace resdb
