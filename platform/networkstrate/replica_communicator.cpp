#include "platform/networkstrate/replica_communicator.h"

#include <glog/logging.h>

#include <utility>

#include "platform/networkstrate/network_address.h"
#include "platform/networkstrate/peer_sender.h"

namespace resdb {

ReplicaCommunicator::ReplicaCommunicator(const ResDBConfig& config, Stats* stats)
    : self_id_(config.GetSelfId()) {
  if (stats == nullptr) {
    owned_stats_ = std::make_unique<Stats>();
    stats = owned_stats_.get();
  }
  const ResConfigData& data = config.GetConfigData();
  PeerSender::Limits limits;
  limits.max_message_bytes = data.max_message_bytes();
  limits.max_queue_messages = data.max_peer_queue_messages();
  limits.max_queue_bytes = data.max_peer_queue_bytes();
  for (const ReplicaInfo& replica : config.GetReplicaInfos()) {
    if (replica.id() == self_id_) continue;
    peers_.emplace(replica.id(),
                   std::make_unique<PeerSender>(
                       replica.id(), HostPort(replica.ip(), replica.port()), limits, stats));
  }
}

ReplicaCommunicator::~ReplicaCommunicator() { Stop(); }

absl::Status ReplicaCommunicator::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return absl::FailedPreconditionError("replica communicator was stopped");
  }
  for (auto& [id, peer] : peers_) peer->Start();
  return absl::OkStatus();
}

void ReplicaCommunicator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  // Cancel every stream first so that unreachable peers are abandoned in parallel, then join.
  for (auto& [id, peer] : peers_) peer->RequestStop();
  for (auto& [id, peer] : peers_) peer->Stop();
}

void ReplicaCommunicator::SetSigner(std::unique_ptr<Signer> signer) {
  std::shared_ptr<const Signer> shared(std::move(signer));
  std::lock_guard<std::mutex> lock(mu_);
  signer_ = std::move(shared);
}

ResDBMessage ReplicaCommunicator::MakeEnvelope(const Request& msg) const {
  ResDBMessage envelope;
  msg.SerializeToString(envelope.mutable_data());
  std::shared_ptr<const Signer> signer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    signer = signer_;
  }
  if (signer != nullptr) {
    SignatureInfo* signature = envelope.mutable_signature();
    signature->set_node_id(self_id_);
    signature->set_signature(signer->Sign(envelope.data()));
    signature->set_hash_type(HASH_ED25519);
  }
  return envelope;
}

bool ReplicaCommunicator::SendMessage(const Request& msg, int64_t node_id) {
  auto it = peers_.find(node_id);
  if (it == peers_.end()) {
    LOG_EVERY_N(WARNING, 1000) << "replica " << self_id_ << ": no peer with id " << node_id
                               << " to send to";
    return false;
  }
  return it->second->Enqueue(MakeEnvelope(msg));
}

void ReplicaCommunicator::BroadCast(const Request& msg) {
  if (peers_.empty()) return;
  ResDBMessage envelope = MakeEnvelope(msg);
  auto last = std::prev(peers_.end());
  for (auto it = peers_.begin(); it != last; ++it) it->second->Enqueue(envelope);
  last->second->Enqueue(std::move(envelope));
}

PeerStats ReplicaCommunicator::GetPeerStats(int64_t node_id) const {
  auto it = peers_.find(node_id);
  if (it == peers_.end()) return PeerStats();
  return it->second->GetStats();
}

}  // namespace resdb
