#include "platform/consensus/ordering/pbft/recent_proposals.h"

namespace resdb {
namespace pbft {

bool RecentProposals::Add(uint64_t client_id, uint64_t request_id) {
  const Key key(client_id, request_id);
  if (!keys_.insert(key).second) return false;
  order_.push_back(key);
  if (order_.size() > capacity_) {
    keys_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

void RecentProposals::Clear() {
  keys_.clear();
  order_.clear();
}

}  // namespace pbft
}  // namespace resdb
