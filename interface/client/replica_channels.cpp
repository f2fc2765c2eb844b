#include "interface/client/replica_channels.h"

#include <algorithm>
#include <climits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "platform/networkstrate/tls_credentials.h"

namespace resdb {
namespace {

constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 1000;

std::string AddressOf(const ReplicaInfo& replica) {
  // IPv6 literals need brackets in a gRPC target.
  if (replica.ip().find(':') != std::string::npos) {
    return absl::StrCat("[", replica.ip(), "]:", replica.port());
  }
  return absl::StrCat(replica.ip(), ":", replica.port());
}

}  // namespace

ReplicaChannels::ReplicaChannels(const ResDBConfig& config) : infos_(config.GetReplicaInfos()) {
  const int64_t max_bytes = config.GetMaxMessageBytes();
  // -1 lifts gRPC's limit; a loaded config always sets one.
  max_message_bytes_ = max_bytes > 0 ? static_cast<int>(std::min<int64_t>(max_bytes, INT_MAX)) : -1;
  for (const ReplicaInfo& info : infos_) addresses_.push_back(AddressOf(info));
  auto credentials = MakeChannelCredentials(config);
  if (credentials.ok()) {
    credentials_ = *std::move(credentials);
  } else {
    credentials_status_ = credentials.status();
  }
  tls_ = config.UsesTls();
  stubs_.resize(infos_.size());
  channels_.resize(infos_.size());
}

int ReplicaChannels::IndexOf(int64_t id) const {
  for (size_t i = 0; i < infos_.size(); ++i) {
    if (infos_[i].id() == id) return static_cast<int>(i);
  }
  return -1;
}

std::string ReplicaChannels::Describe(size_t index) const {
  return absl::StrCat("replica ", infos_[index].id(), " at ", addresses_[index]);
}

absl::Status ReplicaChannels::Usable() const {
  if (infos_.empty()) return absl::FailedPreconditionError("the client config lists no replicas");
  return credentials_status_;
}

ResDBService::Stub* ReplicaChannels::StubFor(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<ResDBService::Stub>& stub = stubs_[index];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(max_message_bytes_);
    args.SetMaxSendMessageSize(max_message_bytes_);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
    if (tls_) args.SetSslTargetNameOverride(ReplicaIdentity(infos_[index].id()));
    channels_[index] = grpc::CreateCustomChannel(addresses_[index], credentials_, args);
    stub = ResDBService::NewStub(channels_[index]);
  }
  return stub.get();
}

void ReplicaChannels::PauseWhileConnecting(std::chrono::steady_clock::duration pause) {
  // A channel reconnects in the background, and its TLS handshake advances only while some
  // thread polls it (else only at gRPC's backup poll, every few seconds, which can outlast
  // the handshake's deadline): poll the channels that are not ready instead of sleeping.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    channels = channels_;
  }
  const auto deadline = std::chrono::system_clock::now() + pause;
  grpc::CompletionQueue queue;
  int pending = 0;
  for (size_t i = 0; i < channels.size(); ++i) {
    if (channels[i] == nullptr) continue;
    const grpc_connectivity_state state = channels[i]->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) continue;
    channels[i]->NotifyOnStateChange(state, deadline, &queue, reinterpret_cast<void*>(i));
    ++pending;
  }
  if (pending == 0) {
    std::this_thread::sleep_for(pause);
    return;
  }
  void* tag = nullptr;
  bool changed = false;
  while (pending > 0 && queue.Next(&tag, &changed)) {
    --pending;
    const size_t i = reinterpret_cast<size_t>(tag);
    const grpc_connectivity_state state = channels[i]->GetState(/*try_to_connect=*/true);
    // A notification past the deadline reports no change; one that came earlier is renewed.
    if (changed && state != GRPC_CHANNEL_READY && std::chrono::system_clock::now() < deadline) {
      channels[i]->NotifyOnStateChange(state, deadline, &queue, tag);
      ++pending;
    }
  }
  queue.Shutdown();
  while (queue.Next(&tag, &changed)) {
  }
}

}  // namespace resdb
