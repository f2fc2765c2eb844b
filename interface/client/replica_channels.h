#ifndef INTERFACE_CLIENT_REPLICA_CHANNELS_H_
#define INTERFACE_CLIENT_REPLICA_CHANNELS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "platform/config/resdb_config.h"
#include "platform/proto/service.grpc.pb.h"

namespace resdb {

// The gRPC channels from a client to the replicas of its config, in the config's order, made
// on first use. Thread-safe.
class ReplicaChannels {
 public:
  // `config` says where the replicas are and how to reach them (`tls`, the message size
  // limit).
  explicit ReplicaChannels(const ResDBConfig& config);

  ReplicaChannels(const ReplicaChannels&) = delete;
  ReplicaChannels& operator=(const ReplicaChannels&) = delete;

  size_t size() const { return infos_.size(); }
  int64_t id(size_t index) const { return infos_[index].id(); }
  // Index of the replica with `id`, or -1.
  int IndexOf(int64_t id) const;
  // "replica <id> at <address>", for error messages.
  std::string Describe(size_t index) const;

  // Whether a call can be made at all: FailedPreconditionError for a config without
  // replicas, the error naming the file when the TLS files could not be read.
  absl::Status Usable() const;

  ResDBService::Stub* StubFor(size_t index);

  // Waits `pause` between two rounds of attempts while the channels connect; returns early
  // once every channel that was connecting is ready.
  void PauseWhileConnecting(std::chrono::steady_clock::duration pause);

 private:
  const std::vector<ReplicaInfo> infos_;
  std::vector<std::string> addresses_;
  // What every channel is made with; when the TLS files could not be read, null and every
  // call fails with credentials_status_.
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Status credentials_status_;
  bool tls_ = false;
  int max_message_bytes_;

  mutable std::mutex mu_;
  // A stub owns its channel.
  std::vector<std::unique_ptr<ResDBService::Stub>> stubs_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

}  // namespace resdb

#endif  // INTERFACE_CLIENT_REPLICA_CHANNELS_H_
