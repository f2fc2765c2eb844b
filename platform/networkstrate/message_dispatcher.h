#ifndef PLATFORM_NETWORKSTRATE_MESSAGE_DISPATCHER_H_
#define PLATFORM_NETWORKSTRATE_MESSAGE_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "platform/common/crypto/signature.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"
#include "platform/statistic/stats.h"

namespace resdb {

// Checks incoming envelopes and hands the valid ones to the consensus manager. Never trusts
// its input: bytes that do not parse as a Request, a type that is not a known Request::Type
// (or TYPE_NONE), client requests larger than max_request_bytes (a client call is answered
// INVALID_REQUEST naming the limit; a forwarded one is dropped), and, when a Verifier is set,
// replica messages without a valid signature of their claimed sender are refused and counted:
//   network_malformed, network_unknown_type, network_oversized_requests,
//   network_bad_signature.
// Every incoming client call and replica message is counted in network_client_calls and
// network_replica_messages; requests the manager rejects in network_consensus_rejected.
// Thread-safe.
class MessageDispatcher {
 public:
  // `manager` and `stats` must outlive this object.
  MessageDispatcher(int64_t self_id, int64_t max_request_bytes, ConsensusManager* manager,
                    Stats* stats);

  // From now on every replica message must carry a signature whose node_id equals the
  // Request's sender_id and that `verifier` accepts over the envelope's data. Null turns the
  // check off.
  void SetVerifier(std::shared_ptr<Verifier> verifier);

  // Until SetAccepting(true), and again after SetAccepting(false), client calls are answered
  // UNAVAILABLE and replica messages dropped: the manager sees traffic only while it runs.
  void SetAccepting(bool accepting);

  // A client call. An invalid envelope is answered at once through `reply` with
  // INVALID_REQUEST; a valid one goes to the manager with `reply` as its Context's reply
  // channel (so a dropped Context answers UNAVAILABLE).
  void DispatchClientCall(const ResDBMessage& envelope, Context::ReplyFn reply);

  // One envelope from a replica stream; its contents are moved out. True when the manager
  // accepted it; invalid envelopes are dropped.
  bool DispatchReplicaMessage(ResDBMessage* envelope);

 private:
  // Parses and type-checks `data`; on failure returns null and sets `error`, counting it.
  std::unique_ptr<Request> ParseRequest(const std::string& data, std::string* error);
  std::shared_ptr<Verifier> verifier() const;

  const int64_t self_id_;
  const size_t max_request_bytes_;
  ConsensusManager* const manager_;

  Counter* const client_calls_;
  Counter* const replica_messages_;
  Counter* const malformed_;
  Counter* const unknown_type_;
  Counter* const oversized_;
  Counter* const bad_signature_;
  Counter* const rejected_;

  std::atomic<bool> accepting_{false};
  mutable std::mutex mu_;
  std::shared_ptr<Verifier> verifier_;  // guarded by mu_
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_MESSAGE_DISPATCHER_H_
