#include "platform/consensus/ordering/pbft/simulation/pbft_invariants.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {
namespace simulation {
namespace {

std::string Short(const std::string& digest) { return absl::BytesToHexString(digest.substr(0, 6)); }

// A readable name for a batch in violation messages: its request ids.
std::string Describe(const std::string& data) {
  if (data.empty()) return "the no-op batch";
  BatchUserRequest batch;
  if (!batch.ParseFromString(data)) return "an unparsable batch";
  std::string out = "batch{requests";
  for (const UserRequest& r : batch.requests()) absl::StrAppend(&out, " ", r.request_id());
  return absl::StrCat(out, "}");
}

}  // namespace

void PbftInvariants::Fail(std::string description) {
  if (violation_.empty()) violation_ = std::move(description);
}

void PbftInvariants::OnRelease(int64_t node, uint64_t seq, const std::string& data) {
  uint64_t& last = last_released_[node];
  if (seq != last + 1) {
    Fail(absl::StrCat("contiguity: node ", node, " released seq ", seq, " after seq ", last,
                      seq <= last ? " (released twice)" : " (a gap)"));
  }
  last = std::max(last, seq);

  auto [it, inserted] = released_.emplace(seq, std::make_pair(data, node));
  if (!inserted && it->second.first != data) {
    Fail(absl::StrCat("agreement: node ", node, " released ", Describe(data), " at seq ", seq,
                      " but node ", it->second.second, " released ", Describe(it->second.first)));
  }
  if (data.empty()) {
    if (inserted) ++empty_batches_;
    return;
  }
  BatchUserRequest batch;
  if (!batch.ParseFromString(data)) {
    Fail(absl::StrCat("validity: node ", node, " released an unparsable batch at seq ", seq));
    return;
  }
  // Request by request first: a forged request is named, not only the batch that holds it.
  for (const UserRequest& request : batch.requests()) {
    if (!clients_->IsIssued(request)) {
      Fail(absl::StrCat("validity: node ", node, " released at seq ", seq, " request ",
                        request.request_id(), " of client ", request.client_id(), " (\"",
                        request.data(), "\"), which that client never issued"));
      return;
    }
  }
  if (!clients_->IsProposedBatch(data)) {
    Fail(absl::StrCat("validity: node ", node, " released at seq ", seq,
                      " a batch no client proposed: ", Describe(data)));
  }
}

void PbftInvariants::OnExecuted(int64_t node, uint64_t seq, const std::string& state_digest) {
  auto [it, inserted] = state_digests_.emplace(seq, std::make_pair(state_digest, node));
  if (!inserted && it->second.first != state_digest) {
    Fail(absl::StrCat("state: node ", node, " has state digest ", Short(state_digest),
                      " after seq ", seq, " but node ", it->second.second, " has ",
                      Short(it->second.first)));
  }
  auto stable = stable_.find(seq);
  if (stable != stable_.end() && stable->second.first != state_digest) {
    Fail(absl::StrCat("checkpoint: node ", node, " has state digest ", Short(state_digest),
                      " after seq ", seq, " but node ", stable->second.second,
                      " made it stable with ", Short(stable->second.first)));
  }
}

void PbftInvariants::OnStable(int64_t node, uint64_t seq, const std::string& digest) {
  auto [it, inserted] = stable_.emplace(seq, std::make_pair(digest, node));
  if (!inserted && it->second.first != digest) {
    Fail(absl::StrCat("checkpoint: node ", node, " made seq ", seq, " stable with digest ",
                      Short(digest), " but node ", it->second.second, " with ",
                      Short(it->second.first)));
    return;
  }
  auto state = state_digests_.find(seq);
  if (state != state_digests_.end() && state->second.first != digest) {
    Fail(absl::StrCat("checkpoint: node ", node, " made seq ", seq, " stable with digest ",
                      Short(digest), " but the state after seq ", seq, " is ",
                      Short(state->second.first), " (node ", state->second.second, ")"));
  }
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
