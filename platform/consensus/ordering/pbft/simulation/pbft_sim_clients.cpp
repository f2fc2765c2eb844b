#include "platform/consensus/ordering/pbft/simulation/pbft_sim_clients.h"

#include "absl/strings/str_cat.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {
namespace simulation {

size_t PbftSimClients::Create(int64_t tick, int requests) {
  Proposal proposal;
  proposal.created_tick = tick;
  BatchUserRequest batch;
  for (int i = 0; i < requests; ++i) {
    const uint64_t id = next_request_id_++;
    UserRequest* request = batch.add_requests();
    request->set_client_id(1 + id % 3);
    request->set_request_id(id);
    request->set_data(absl::StrCat("set k", id % 17, " v", id));
    proposal.request_ids.push_back(id);
  }
  batch.set_create_time_us(static_cast<uint64_t>(tick));
  batch.SerializeToString(&proposal.data);
  batches_.insert(proposal.data);
  proposals_.push_back(std::move(proposal));
  return proposals_.size() - 1;
}

std::vector<size_t> PbftSimClients::Due(int64_t tick) const {
  std::vector<size_t> due;
  for (size_t i = first_pending_; i < proposals_.size(); ++i) {
    const Proposal& p = proposals_[i];
    if (!p.done && (p.handed_tick < 0 || tick - p.handed_tick >= retry_ticks_)) due.push_back(i);
  }
  return due;
}

void PbftSimClients::MarkDone(size_t index) {
  proposals_[index].done = true;
  while (first_pending_ < proposals_.size() && proposals_[first_pending_].done) ++first_pending_;
}

void PbftSimClients::MarkHanded(size_t index, int64_t tick) {
  proposals_[index].handed_tick = tick;
  ++proposals_[index].handed;
}

size_t PbftSimClients::pending() const {
  size_t n = 0;
  for (size_t i = first_pending_; i < proposals_.size(); ++i) n += proposals_[i].done ? 0 : 1;
  return n;
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
