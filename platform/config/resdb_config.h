#ifndef PLATFORM_CONFIG_RESDB_CONFIG_H_
#define PLATFORM_CONFIG_RESDB_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/proto/replica_info.pb.h"

namespace resdb {

// The consensus protocols a deployment can choose with `consensus_protocol`.
inline constexpr char kProtocolPbft[] = "pbft";
inline constexpr char kProtocolRaft[] = "raft";
inline constexpr char kDefaultProtocol[] = "pbft";

// Replaced by the replica's id in tls.cert_file and tls.key_file.
inline constexpr char kTlsIdPlaceholder[] = "{id}";
// Values of query_access.
inline constexpr char kQueryAccessOpen[] = "open";
inline constexpr char kQueryAccessAdmin[] = "admin";

// Read-only view of one deployment's configuration (ResConfigData) plus the identity of the
// process that uses it. A replica has self_id > 0; a client has self_id == 0.
//
// Thread-safe for concurrent reads once constructed; the setters are for set-up and tests.
class ResDBConfig {
 public:
  ResDBConfig(ResConfigData data, int64_t self_id);

  // Reads a JSON config file (full-line `//` or `#` comments are allowed), parses it with
  // protobuf's JSON parser (unknown fields are an error) and validates it. Relative
  // public_key_file and tls paths are resolved against the file's directory. The error names the
  // file and the offending field.
  static absl::StatusOr<ResDBConfig> LoadFromFile(const std::string& path, int64_t self_id);

  // Same as LoadFromFile for JSON text already in memory.
  static absl::StatusOr<ResDBConfig> LoadFromJson(const std::string& json, int64_t self_id);

  // Checks every rule a deployment must satisfy; the message names the field, e.g.
  // "region[0].replica_info[2].port: 70000 is out of range 1..65535".
  static absl::Status Validate(const ResConfigData& data, int64_t self_id);

  // Serializes `data` as JSON (the inverse of LoadFromJson).
  static std::string ToJson(const ResConfigData& data);

  const ResConfigData& GetConfigData() const { return data_; }
  int64_t GetSelfId() const { return self_id_; }

  // "pbft" when the config does not set consensus_protocol.
  std::string GetConsensusProtocol() const;
  void SetConsensusProtocol(const std::string& protocol);

  // Every replica of the deployment, in config order.
  const std::vector<ReplicaInfo>& GetReplicaInfos() const { return replicas_; }
  // This process's own entry; an empty ReplicaInfo for a client.
  const ReplicaInfo& GetSelfInfo() const { return self_info_; }
  // Number of replicas and the largest number of faulty ones the protocol tolerates
  // (f = (n-1)/3 for PBFT, (n-1)/2 for RAFT).
  int GetReplicaNum() const { return static_cast<int>(replicas_.size()); }
  int GetMaxMaliciousReplicaNum() const;
  // Matching replies / votes the protocol needs: 2f+1 for PBFT, f+1 (a majority) for RAFT.
  int GetMinDataReceiveNum() const;

  const RaftConfig& GetRaftConfig() const { return data_.raft_config(); }
  const PbftConfig& GetPbftConfig() const { return data_.pbft_config(); }
  int64_t GetMaxMessageBytes() const { return data_.max_message_bytes(); }
  int GetClientTimeoutMs() const { return data_.client_timeout_ms(); }
  int GetClientBatchNum() const { return data_.client_batch_num(); }
  int64_t GetMaxRequestBytes() const { return data_.max_request_bytes(); }
  int64_t GetMaxBatchBytes() const { return data_.max_batch_bytes(); }
  int GetMaxPendingPerClient() const { return data_.max_pending_per_client(); }
  int64_t GetQuotaBytes() const { return data_.quota_bytes(); }
  int GetHeartBeatIntervalMs() const { return data_.heartbeat_interval_ms(); }
  bool IsSyncWrites() const { return data_.sync_writes(); }
  // True when the config sets `tls` (a validated config otherwise sets allow_plaintext).
  bool UsesTls() const { return data_.has_tls(); }
  // This process's certificate and key files, "{id}" replaced by the self id.
  std::string GetTlsCertFile() const;
  std::string GetTlsKeyFile() const;

  // Mutable access for tests and tools that build configs in code.
  ResConfigData* MutableConfigData() { return &data_; }

 private:
  void IndexReplicas();

  ResConfigData data_;
  int64_t self_id_;
  std::vector<ReplicaInfo> replicas_;
  ReplicaInfo self_info_;
};

}  // namespace resdb

#endif  // PLATFORM_CONFIG_RESDB_CONFIG_H_
