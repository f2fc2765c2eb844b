#ifndef PLATFORM_NETWORKSTRATE_MESSAGE_DISPATCHER_H_
#define PLATFORM_NETWORKSTRATE_MESSAGE_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
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
//
// Who may do what, decided here so that no protocol has to: TYPE_ADMIN calls only from an
// identity in the config's admin_identities (in plaintext mode, only with
// allow_plaintext_admin), TYPE_STATUS and TYPE_CUSTOM_QUERY likewise when query_access is
// "admin"; others are answered PERMISSION_DENIED (network_permission_denied). An admin call's
// timeout_ms is shortened to max_admin_timeout_ms. Under TLS a replica stream is accepted
// only from a certificate naming a current member (network_non_member_streams), and each of
// its envelopes must carry that member's sender_id (network_sender_mismatch).
// Thread-safe.
class MessageDispatcher {
 public:
  // `manager` and `stats` must outlive this object.
  MessageDispatcher(const ResDBConfig& config, ConsensusManager* manager, Stats* stats);

  // From now on every replica message must carry a signature whose node_id equals the
  // Request's sender_id and that `verifier` accepts over the envelope's data. Null turns the
  // check off.
  void SetVerifier(std::shared_ptr<Verifier> verifier);

  // Until SetAccepting(true), and again after SetAccepting(false), client calls are answered
  // UNAVAILABLE and replica messages dropped: the manager sees traffic only while it runs.
  void SetAccepting(bool accepting);

  // A client call from `caller_identity` (the certificate's common name, "" in plaintext
  // mode). An invalid envelope is answered at once through `reply` with INVALID_REQUEST, a
  // forbidden one with PERMISSION_DENIED; a valid one goes to the manager with `reply` as its
  // Context's reply channel (so a dropped Context answers UNAVAILABLE).
  void DispatchClientCall(const ResDBMessage& envelope, Context::ReplyFn reply,
                          const std::string& caller_identity);

  // Whether a replica stream from `caller_identity` may deliver messages now; sets
  // `*channel_id` to the replica it names (0 in plaintext mode, where anyone may).
  bool AcceptReplicaStream(const std::string& caller_identity, int64_t* channel_id);

  // One envelope from a replica stream whose peer is replica `channel_id` (0: not
  // authenticated, plaintext mode); its contents are moved out. True when the manager
  // accepted it; invalid envelopes are dropped.
  bool DispatchReplicaMessage(ResDBMessage* envelope, int64_t channel_id);

 private:
  // Parses and type-checks `data`; on failure returns null and sets `error`, counting it.
  std::unique_ptr<Request> ParseRequest(const std::string& data, std::string* error);
  std::shared_ptr<Verifier> verifier() const;
  // The answer to a client call refused before the manager saw it.
  Response Refusal(Response::Status status, const std::string& error) const;
  bool IsAdmin(const std::string& caller_identity) const;
  // The reason `request` from `caller_identity` is refused, "" when it is allowed. May
  // rewrite an admin request's timeout.
  std::string Authorize(Request* request, const std::string& caller_identity) const;

  const int64_t self_id_;
  const size_t max_request_bytes_;
  ConsensusManager* const manager_;
  const bool tls_;
  const bool allow_plaintext_admin_;
  const bool admin_only_queries_;
  const std::set<std::string> admin_identities_;
  // The longest an admin call may wait; a call that names no timeout gets the client timeout.
  const int max_admin_timeout_ms_;
  const int client_timeout_ms_;

  Counter* const client_calls_;
  Counter* const replica_messages_;
  Counter* const malformed_;
  Counter* const unknown_type_;
  Counter* const oversized_;
  Counter* const bad_signature_;
  Counter* const rejected_;
  Counter* const sender_mismatch_;
  Counter* const non_member_streams_;
  Counter* const permission_denied_;

  std::atomic<bool> accepting_{false};
  mutable std::mutex mu_;
  std::shared_ptr<Verifier> verifier_;  // guarded by mu_
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_MESSAGE_DISPATCHER_H_
