#include "platform/networkstrate/consensus_manager.h"

#include <chrono>
#include <utility>

namespace resdb {
namespace {

Stats* OwnIfNull(Stats* stats, std::unique_ptr<Stats>* owned) {
  if (stats != nullptr) return stats;
  *owned = std::make_unique<Stats>();
  return owned->get();
}

}  // namespace

ConsensusManager::ConsensusManager(const ResDBConfig& config, Stats* stats)
    : config_(config),
      stats_(OwnIfNull(stats, &owned_stats_)),
      communicator_(std::make_unique<ReplicaCommunicator>(config_, stats_)) {}

ConsensusManager::~ConsensusManager() { Stop(); }

absl::Status ConsensusManager::Start() {
  std::lock_guard<std::mutex> join_lock(join_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stopping_) {
      return absl::FailedPreconditionError("consensus manager already started or stopped");
    }
    started_ = true;
  }
  absl::Status status = communicator_->Start();
  if (!status.ok()) return status;
  if (config_.GetHeartBeatIntervalMs() > 0) {
    heartbeat_thread_ = std::thread([this] { HeartBeatLoop(); });
  }
  return absl::OkStatus();
}

void ConsensusManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  {
    std::lock_guard<std::mutex> join_lock(join_mu_);
    if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  }
  communicator_->Stop();
}

void ConsensusManager::SetSigner(std::unique_ptr<Signer> signer) {
  communicator_->SetSigner(std::move(signer));
}

ReplicaStatus ConsensusManager::GetStatus() {
  ReplicaStatus status;
  status.set_id(config_.GetSelfId());
  status.set_protocol(config_.GetConsensusProtocol());
  status.set_leader_id(GetPrimary());
  status.set_term(GetVersion());
  // What the transport refused before any protocol saw it, and what it could not send.
  auto& metrics = *status.mutable_metrics();
  for (const char* name :
       {"network_malformed", "network_unknown_type", "network_bad_signature",
        "network_consensus_rejected", "network_oversized_requests", "network_send_dropped",
        "network_send_oversized", "network_sender_mismatch", "network_non_member_streams",
        "network_permission_denied"}) {
    metrics[name] = static_cast<int64_t>(stats()->CounterValue(name));
  }
  // The service's data against its quota (see quota_bytes).
  for (const char* name : {"kv_used_bytes", "kv_quota_bytes"}) {
    metrics[name] = stats()->GaugeValue(name);
  }
  return status;
}

bool ConsensusManager::IsReplicaMember(int64_t id) {
  if (id <= 0 || id == config_.GetSelfId()) return false;
  for (const ReplicaInfo& replica : config_.GetReplicaInfos()) {
    if (replica.id() == id) return true;
  }
  return communicator_->HasPeer(id);
}

bool ConsensusManager::AnswerStatusRequest(const Request& request, Context* context) {
  if (request.type() != Request::TYPE_STATUS) return false;
  if (context == nullptr) return true;
  Response response;
  response.set_status(Response::OK);
  response.set_replica_id(config_.GetSelfId());
  const ReplicaStatus status = GetStatus();
  response.set_leader_id(status.leader_id());
  status.SerializeToString(response.mutable_data());
  context->Reply(response);
  return true;
}

void ConsensusManager::HeartBeat() {
  Request heartbeat;
  heartbeat.set_type(Request::TYPE_HEART_BEAT);
  heartbeat.set_sender_id(config_.GetSelfId());
  communicator_->BroadCast(heartbeat);
}

void ConsensusManager::HeartBeatLoop() {
  const std::chrono::milliseconds interval(config_.GetHeartBeatIntervalMs());
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_until(lock, std::chrono::steady_clock::now() + interval,
                         [this] { return stopping_; })) {
    lock.unlock();
    HeartBeat();
    lock.lock();
  }
}

}  // namespace resdb
