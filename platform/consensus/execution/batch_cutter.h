#ifndef PLATFORM_CONSENSUS_EXECUTION_BATCH_CUTTER_H_
#define PLATFORM_CONSENSUS_EXECUTION_BATCH_CUTTER_H_

#include <cstddef>
#include <vector>

#include "platform/proto/resdb.pb.h"

namespace resdb {

// Where the leader or primary cuts the client requests waiting to be ordered into batches: at
// most `max_requests` requests and `max_bytes` of serialized requests per batch, and always at
// least one request. With every request below max_request_bytes and max_bytes below the
// message limit, every batch fits in one replica message and so can always be replicated.
class BatchCutter {
 public:
  BatchCutter(size_t max_requests, size_t max_bytes);

  // The end of the batch that starts at `begin` (< requests.size()): the first index it does
  // not hold.
  size_t End(const std::vector<UserRequest>& requests, size_t begin) const;

 private:
  const size_t max_requests_;
  const size_t max_bytes_;
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_BATCH_CUTTER_H_
