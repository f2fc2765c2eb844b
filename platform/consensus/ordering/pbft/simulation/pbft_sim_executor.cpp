#include "platform/consensus/ordering/pbft/simulation/pbft_sim_executor.h"

#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {
namespace simulation {

std::string PbftSimExecutor::Apply(uint64_t seq, const std::string& batch_data) {
  last_seq_ = seq;
  digest_ = BatchDigest(digest_ + BatchDigest(batch_data));
  BatchUserRequest batch;
  if (!batch_data.empty() && batch.ParseFromString(batch_data)) {
    for (const UserRequest& request : batch.requests()) request_ids_.insert(request.request_id());
  }
  return digest_;
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
