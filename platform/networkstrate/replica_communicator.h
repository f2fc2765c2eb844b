#ifndef PLATFORM_NETWORKSTRATE_REPLICA_COMMUNICATOR_H_
#define PLATFORM_NETWORKSTRATE_REPLICA_COMMUNICATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "absl/status/status.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "platform/networkstrate/peer_sender.h"
#include "platform/networkstrate/peer_stats.h"
#include "platform/proto/resdb.pb.h"
#include "platform/statistic/stats.h"

namespace resdb {

// Sends Requests to the other replicas of a deployment. Every Request is serialized into a
// ResDBMessage envelope (signed when a Signer is set) and queued on the destination's
// bounded queue; per peer, one long-lived stream carries the queue in batches (see
// PeerSender). Sending never blocks on the network: when a peer's queue is full the message
// is dropped and counted ("network_send_dropped"). Delivery is at most once and in order
// per peer while a stream stays up; consensus protocols retransmit what they need.
//
// Counters (each also per peer with the suffix "_peer_<id>"): network_sent_messages,
// network_sent_batches, network_send_failures, network_send_dropped; gauge
// network_queue_messages. Thread-safe.
class ReplicaCommunicator {
 public:
  // Prepares a sender for every replica in `config` except the config's self id. Channels use
  // the config's TLS settings (see tls_credentials.h): each peer must present a certificate
  // naming it. `stats` may be null (metrics are then kept privately); otherwise it must
  // outlive this object.
  ReplicaCommunicator(const ResDBConfig& config, Stats* stats);
  // Stops and joins.
  ~ReplicaCommunicator();

  ReplicaCommunicator(const ReplicaCommunicator&) = delete;
  ReplicaCommunicator& operator=(const ReplicaCommunicator&) = delete;

  // Starts the per-peer senders. Connections are opened when the first message for a peer
  // is queued. Fails after Stop(), and when the TLS files cannot be read (naming the file).
  absl::Status Start();
  // Cancels every stream (also ones still connecting), joins all threads and discards what
  // is queued. Returns promptly even when peers are unreachable. Idempotent.
  void Stop();

  // Signs every envelope sent from now on with `signer`: signature.node_id = self id,
  // signature over exactly the envelope's `data`, hash_type HASH_ED25519. Null disables
  // signing.
  void SetSigner(std::unique_ptr<Signer> signer);
  // This replica's signature over `data` with the key its messages are signed with; empty
  // without one.
  std::string Sign(absl::string_view data) const;

  // Queues `msg` for replica `node_id`. False when `node_id` is not another replica of the
  // config, or the message was dropped (queue full, larger than max_message_bytes, stopped).
  bool SendMessage(const Request& msg, int64_t node_id);
  // Queues `msg` for every replica except this one (serialized and signed once).
  void BroadCast(const Request& msg);

  // The send path to `node_id`; all zero for an unknown node.
  PeerStats GetPeerStats(int64_t node_id) const;

  // Adds a replica that joined after start-up (RAFT membership change), reached at
  // `address` ("host:port"). No-op for this replica and for a known one; false after Stop().
  bool AddPeer(int64_t node_id, const std::string& address);
  bool HasPeer(int64_t node_id) const;

 private:
  ResDBMessage MakeEnvelope(const Request& msg) const;

  PeerSender* FindPeer(int64_t node_id) const;
  void StartPeer(PeerSender* peer) const;

  const int64_t self_id_;
  std::unique_ptr<Stats> owned_stats_;
  Stats* stats_;
  PeerSender::Limits limits_;
  const bool tls_;
  // What every channel is made with; when the TLS files could not be read, null and the
  // error in credentials_status_ (reported by Start).
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Status credentials_status_;

  // Peers only ever join: a sender, once in the map, lives until destruction, so a pointer
  // read under the lock stays valid. The senders themselves are thread-safe.
  mutable std::shared_mutex peers_mu_;
  std::map<int64_t, std::unique_ptr<PeerSender>> peers_;  // guarded by peers_mu_

  mutable std::mutex mu_;
  std::shared_ptr<const Signer> signer_;  // guarded by mu_
  bool started_ = false;                  // guarded by mu_
  bool stopped_ = false;                  // guarded by mu_
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_REPLICA_COMMUNICATOR_H_
