#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_CLIENTS_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_CLIENTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "platform/common/crypto/client_identity.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {
namespace simulation {

// The clients of a run: each proposal is a distinct batch (a serialized BatchUserRequest
// whose requests carry run-unique request ids), each request signed by one of kClients
// clients with its Ed25519 key, as real clients sign theirs (client_identity.h). The keys
// come from fixed seeds, and a request's client and payload follow from its id: every run
// issues the same signed requests, which a process signs once. A proposal is done once f+1 correct
// replicas executed every request of it (what a PBFT client waits for); until then it is
// handed again to the current primary every `retry_ticks`. A retried batch may execute at
// two sequence numbers, so validity and liveness are judged on request ids.
class PbftSimClients {
 public:
  struct Proposal {
    std::string data;
    std::vector<uint64_t> request_ids;
    int64_t created_tick = 0;
    // -1 until a primary accepted it.
    int64_t handed_tick = -1;
    int handed = 0;
    bool done = false;
  };

  static constexpr size_t kClients = 3;

  explicit PbftSimClients(int64_t retry_ticks);

  // A new proposal of `requests` requests (>= 1); returns its index.
  size_t Create(int64_t tick, int requests);
  // Indices of the proposals that are not done and are due to be handed to a primary.
  std::vector<size_t> Due(int64_t tick) const;
  void MarkHanded(size_t index, int64_t tick);
  void MarkDone(size_t index);
  // Every proposal before this index is done.
  size_t first_pending() const { return first_pending_; }

  const std::vector<Proposal>& proposals() const { return proposals_; }
  size_t pending() const;
  bool IsProposedBatch(const std::string& data) const { return batches_.count(data) > 0; }
  // True only if a client issued exactly `request`: its request id, from its client, with its
  // payload.
  bool IsIssued(const UserRequest& request) const;
  // Client `client` (< kClients), which signs the request ids i with i % kClients == client.
  const ClientIdentity& client(size_t client) const;
  // The id `client` will give its next request.
  uint64_t NextRequestIdOf(size_t client) const;
  // Requests issued so far (their ids are 1..issued_requests()).
  uint64_t issued_requests() const { return next_request_id_ - 1; }

 private:
  int64_t retry_ticks_;
  // request id -> (client id, payload) of every request issued.
  std::map<uint64_t, std::pair<uint64_t, std::string>> issued_;
  std::vector<Proposal> proposals_;
  std::set<std::string> batches_;
  uint64_t next_request_id_ = 1;
  size_t first_pending_ = 0;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_CLIENTS_H_
