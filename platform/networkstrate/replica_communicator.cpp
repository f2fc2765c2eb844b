#include "platform/networkstrate/replica_communicator.h"

#include <glog/logging.h>

#include <utility>

#include "platform/networkstrate/network_address.h"
#include "platform/networkstrate/peer_sender.h"
#include "platform/networkstrate/tls_credentials.h"

namespace resdb {

ReplicaCommunicator::ReplicaCommunicator(const ResDBConfig& config, Stats* stats)
    : self_id_(config.GetSelfId()), stats_(stats), tls_(config.UsesTls()) {
  auto credentials = MakeChannelCredentials(config);
  if (credentials.ok()) {
    credentials_ = *std::move(credentials);
  } else {
    credentials_status_ = credentials.status();
  }
  if (stats_ == nullptr) {
    owned_stats_ = std::make_unique<Stats>();
    stats_ = owned_stats_.get();
  }
  const ResConfigData& data = config.GetConfigData();
  limits_.max_message_bytes = data.max_message_bytes();
  limits_.max_queue_messages = data.max_peer_queue_messages();
  limits_.max_queue_bytes = data.max_peer_queue_bytes();
  for (const ReplicaInfo& replica : config.GetReplicaInfos()) {
    if (replica.id() == self_id_) continue;
    peers_.emplace(replica.id(),
                   std::make_unique<PeerSender>(
                       replica.id(), HostPort(replica.ip(), replica.port()), limits_, stats_));
  }
}

ReplicaCommunicator::~ReplicaCommunicator() { Stop(); }

absl::Status ReplicaCommunicator::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::FailedPreconditionError("replica communicator was stopped");
  if (!credentials_status_.ok()) return credentials_status_;
  if (started_) return absl::OkStatus();
  started_ = true;
  std::shared_lock<std::shared_mutex> peers_lock(peers_mu_);
  for (auto& [id, peer] : peers_) StartPeer(peer.get());
  return absl::OkStatus();
}

void ReplicaCommunicator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  // No peer joins once stopped_ is set. Cancel every stream first so that unreachable peers
  // are abandoned in parallel, then join.
  std::shared_lock<std::shared_mutex> peers_lock(peers_mu_);
  for (auto& [id, peer] : peers_) peer->RequestStop();
  for (auto& [id, peer] : peers_) peer->Stop();
}

bool ReplicaCommunicator::AddPeer(int64_t node_id, const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return false;
  if (node_id == self_id_) return true;
  std::unique_lock<std::shared_mutex> peers_lock(peers_mu_);
  if (peers_.count(node_id) > 0) return true;
  auto peer = std::make_unique<PeerSender>(node_id, address, limits_, stats_);
  if (started_) StartPeer(peer.get());
  peers_.emplace(node_id, std::move(peer));
  LOG(INFO) << "replica " << self_id_ << ": peer " << node_id << " at " << address << " added";
  return true;
}

void ReplicaCommunicator::StartPeer(PeerSender* peer) const {
  peer->Start(credentials_, tls_ ? ReplicaIdentity(peer->node_id()) : std::string());
}

bool ReplicaCommunicator::HasPeer(int64_t node_id) const { return FindPeer(node_id) != nullptr; }

PeerSender* ReplicaCommunicator::FindPeer(int64_t node_id) const {
  std::shared_lock<std::shared_mutex> lock(peers_mu_);
  auto it = peers_.find(node_id);
  return it == peers_.end() ? nullptr : it->second.get();
}

void ReplicaCommunicator::SetSigner(std::unique_ptr<Signer> signer) {
  std::shared_ptr<const Signer> shared(std::move(signer));
  std::lock_guard<std::mutex> lock(mu_);
  signer_ = std::move(shared);
}

std::string ReplicaCommunicator::Sign(absl::string_view data) const {
  std::shared_ptr<const Signer> signer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    signer = signer_;
  }
  return signer == nullptr ? std::string() : signer->Sign(data);
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
  PeerSender* peer = FindPeer(node_id);
  if (peer == nullptr) {
    LOG_EVERY_N(WARNING, 1000) << "replica " << self_id_ << ": no peer with id " << node_id
                               << " to send to";
    return false;
  }
  return peer->Enqueue(MakeEnvelope(msg));
}

void ReplicaCommunicator::BroadCast(const Request& msg) {
  ResDBMessage envelope = MakeEnvelope(msg);
  std::shared_lock<std::shared_mutex> lock(peers_mu_);
  for (auto& [id, peer] : peers_) peer->Enqueue(envelope);
}

PeerStats ReplicaCommunicator::GetPeerStats(int64_t node_id) const {
  PeerSender* peer = FindPeer(node_id);
  return peer == nullptr ? PeerStats() : peer->GetStats();
}

}  // namespace resdb
