#include "platform/config/resdb_config.h"

#include <arpa/inet.h>

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace resdb {
namespace {

// Full-line comments are blanked rather than removed so that parse errors keep their line
// numbers.
std::string StripCommentLines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (std::string& line : lines) {
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    if (absl::StartsWith(trimmed, "//") || absl::StartsWith(trimmed, "#")) {
      line.clear();
    }
  }
  return absl::StrJoin(lines, "\n");
}

bool IsValidHost(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) return true;
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) return true;
  // A DNS name: labels of letters, digits and '-', separated by dots. A string of digits and
  // dots that is not an IPv4 address (e.g. "127.0.0.300") is rejected.
  bool all_digits_and_dots = true;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(c) && c != '-') return false;
      if (!absl::ascii_isdigit(c)) all_digits_and_dots = false;
    }
  }
  return !all_digits_and_dots;
}

absl::Status FieldError(const std::string& field, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Checks lo <= value <= hi and names the field otherwise.
absl::Status CheckRange(const std::string& field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return FieldError(field, absl::StrCat(value, " is out of range ", lo, "..", hi));
  }
  return absl::OkStatus();
}

absl::Status ValidateReplicas(const ResConfigData& data, int64_t self_id) {
  std::set<int64_t> ids;
  std::set<std::pair<std::string, int>> endpoints;
  int count = 0;
  bool self_found = false;
  for (int r = 0; r < data.region_size(); ++r) {
    const RegionInfo& region = data.region(r);
    for (int i = 0; i < region.replica_info_size(); ++i) {
      const ReplicaInfo& replica = region.replica_info(i);
      const std::string field = absl::StrCat("region[", r, "].replica_info[", i, "]");
      if (!replica.has_id()) return FieldError(field + ".id", "missing");
      if (replica.id() <= 0) {
        return FieldError(field + ".id", absl::StrCat(replica.id(), " must be positive"));
      }
      if (!ids.insert(replica.id()).second) {
        return FieldError(field + ".id", absl::StrCat("duplicate replica id ", replica.id()));
      }
      if (!IsValidHost(replica.ip())) {
        return FieldError(field + ".ip",
                          absl::StrCat("\"", replica.ip(), "\" is not a valid address"));
      }
      if (!replica.has_port()) return FieldError(field + ".port", "missing");
      absl::Status port = CheckRange(field + ".port", replica.port(), 1, 65535);
      if (!port.ok()) return port;
      if (!endpoints.emplace(replica.ip(), replica.port()).second) {
        return FieldError(field + ".port",
                          absl::StrCat("duplicate address ", replica.ip(), ":", replica.port()));
      }
      self_found = self_found || replica.id() == self_id;
      ++count;
    }
  }
  if (count == 0) return FieldError("region", "no replica_info entries");
  if (self_id > 0 && !self_found) {
    return FieldError("region", absl::StrCat("no replica has id ", self_id,
                                             " (the id this process was started with)"));
  }

  const std::string protocol =
      data.has_consensus_protocol() ? data.consensus_protocol() : kDefaultProtocol;
  if (protocol == kProtocolRaft && count < 3) {
    return FieldError("region", absl::StrCat("raft needs at least 3 replicas, config has ", count));
  }
  if (protocol == kProtocolPbft) {
    // With n = 3f+1 any two quorums of 2f+1 share f+1 replicas, at least one of them honest;
    // for other n the quorum 2f+1 with f = (n-1)/3 does not guarantee that (n = 6: 3 and 3).
    if (count < 4 || (count - 1) % 3 != 0) {
      return FieldError("region", absl::StrCat("pbft needs n = 3f+1 replicas (4, 7, 10, ...), "
                                               "config has ",
                                               count));
    }
    // Views rotate the primary over ids 1..n.
    if (*ids.rbegin() != count) {
      return FieldError("region", absl::StrCat("pbft replica ids must be exactly 1..", count,
                                               ", config has ", absl::StrJoin(ids, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRaft(const ResConfigData& data) {
  const RaftConfig& raft = data.raft_config();
  const absl::Status checks[] = {
      CheckRange("raft_config.heartbeat_interval_ms", raft.heartbeat_interval_ms(), 1, 60000),
      CheckRange("raft_config.election_timeout_min_ms", raft.election_timeout_min_ms(),
                 2 * static_cast<int64_t>(raft.heartbeat_interval_ms()), 600000),
      CheckRange("raft_config.election_timeout_max_ms", raft.election_timeout_max_ms(),
                 raft.election_timeout_min_ms(), 600000),
      CheckRange("raft_config.max_entries_per_append", raft.max_entries_per_append(), 1, 1 << 20),
      CheckRange("raft_config.max_bytes_per_append", raft.max_bytes_per_append(), 1,
                 data.max_message_bytes() / 2),
      CheckRange("raft_config.max_inflight_appends", raft.max_inflight_appends(), 1, 1 << 16),
      CheckRange("raft_config.snapshot_threshold", raft.snapshot_threshold(), 1, int64_t{1} << 40),
      CheckRange("raft_config.snapshot_chunk_bytes", raft.snapshot_chunk_bytes(), 1,
                 data.max_message_bytes() / 2),
      CheckRange("raft_config.log_tail_after_snapshot", raft.log_tail_after_snapshot(), 0,
                 int64_t{1} << 40),
  };
  for (const absl::Status& check : checks) {
    if (!check.ok()) return check;
  }
  return absl::OkStatus();
}

absl::Status ValidatePbft(const ResConfigData& data) {
  const PbftConfig& pbft = data.pbft_config();
  const absl::Status checks[] = {
      CheckRange("pbft_config.checkpoint_interval", pbft.checkpoint_interval(), 1, 1 << 20),
      CheckRange("pbft_config.watermark_window", pbft.watermark_window(),
                 2 * static_cast<int64_t>(pbft.checkpoint_interval()), 1 << 24),
      CheckRange("pbft_config.view_change_timeout_ms", pbft.view_change_timeout_ms(), 10, 3600000),
  };
  for (const absl::Status& check : checks) {
    if (!check.ok()) return check;
  }
  return absl::OkStatus();
}

absl::Status ValidateGeneral(const ResConfigData& data) {
  const absl::Status checks[] = {
      CheckRange("max_message_bytes", data.max_message_bytes(), 64 * 1024, 1 << 30),
      CheckRange("client_batch_num", data.client_batch_num(), 1, 100000),
      CheckRange("max_peer_queue_messages", data.max_peer_queue_messages(), 1, 10000000),
      CheckRange("max_peer_queue_bytes", data.max_peer_queue_bytes(), data.max_message_bytes(),
                 int64_t{16} << 30),
      CheckRange("client_timeout_ms", data.client_timeout_ms(), 1, 3600000),
      CheckRange("heartbeat_interval_ms", data.heartbeat_interval_ms(), 1, 3600000),
      CheckRange("max_pending_executions", data.max_pending_executions(), 1, 10000000),
      CheckRange("max_batch_bytes", data.max_batch_bytes(), 4096, data.max_message_bytes() / 2),
      CheckRange("max_request_bytes", data.max_request_bytes(), 1024, data.max_batch_bytes()),
      CheckRange("max_pending_per_client", data.max_pending_per_client(), 1, 1000000),
      CheckRange("quota_bytes", data.quota_bytes(), 0, int64_t{1} << 50),
  };
  for (const absl::Status& check : checks) {
    if (!check.ok()) return check;
  }
  return absl::OkStatus();
}

// Every config must either name its TLS files or opt out of TLS explicitly, so that a
// forgotten setting can never mean an unauthenticated deployment.
absl::Status ValidateSecurity(const ResConfigData& data, int64_t self_id) {
  if (data.has_tls()) {
    if (data.allow_plaintext()) {
      return FieldError("allow_plaintext", "must not be true when tls is set");
    }
    const TlsConfig& tls = data.tls();
    const std::pair<const char*, const std::string*> files[] = {
        {"tls.ca_file", &tls.ca_file()},
        {"tls.cert_file", &tls.cert_file()},
        {"tls.key_file", &tls.key_file()},
    };
    for (const auto& [field, value] : files) {
      if (value->empty()) return FieldError(field, "missing");
      if (self_id == 0 && absl::StrContains(*value, kTlsIdPlaceholder)) {
        return FieldError(field, absl::StrCat("\"", kTlsIdPlaceholder,
                                              "\" is for server configs; a client names its own "
                                              "certificate"));
      }
    }
  } else if (!data.allow_plaintext()) {
    return FieldError("tls",
                      "missing: set tls (ca_file, cert_file, key_file) or, to run "
                      "without authentication, allow_plaintext: true");
  }
  if (data.allow_plaintext_admin() && !data.allow_plaintext()) {
    return FieldError("allow_plaintext_admin", "only applies with allow_plaintext: true");
  }
  for (int i = 0; i < data.admin_identities_size(); ++i) {
    if (data.admin_identities(i).empty()) {
      return FieldError(absl::StrCat("admin_identities[", i, "]"), "empty");
    }
  }
  if (data.query_access() != kQueryAccessOpen && data.query_access() != kQueryAccessAdmin) {
    return FieldError("query_access", absl::StrCat("\"", data.query_access(),
                                                   "\" (expected \"open\" or \"admin\")"));
  }
  return CheckRange("max_admin_timeout_ms", data.max_admin_timeout_ms(), 1, 86400000);
}

std::string ResolvePath(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return dir + path;
}

}  // namespace

ResDBConfig::ResDBConfig(ResConfigData data, int64_t self_id)
    : data_(std::move(data)), self_id_(self_id) {
  IndexReplicas();
}

std::string ResDBConfig::GetTlsCertFile() const {
  return absl::StrReplaceAll(data_.tls().cert_file(),
                             {{kTlsIdPlaceholder, absl::StrCat(self_id_)}});
}

std::string ResDBConfig::GetTlsKeyFile() const {
  return absl::StrReplaceAll(data_.tls().key_file(), {{kTlsIdPlaceholder, absl::StrCat(self_id_)}});
}

void ResDBConfig::IndexReplicas() {
  replicas_.clear();
  self_info_.Clear();
  for (const RegionInfo& region : data_.region()) {
    for (const ReplicaInfo& replica : region.replica_info()) {
      replicas_.push_back(replica);
      if (replica.id() == self_id_) self_info_ = replica;
    }
  }
}

absl::StatusOr<ResDBConfig> ResDBConfig::LoadFromJson(const std::string& json, int64_t self_id) {
  ResConfigData data;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(StripCommentLines(json), &data, options);
  if (!parsed.ok()) {
    // The parser appends a caret line under the error; a one-line message is easier to log.
    const std::string full_message(parsed.message());
    absl::string_view message = full_message;
    message = message.substr(0, message.find('\n'));
    return absl::InvalidArgumentError(
        absl::StrCat("invalid config JSON: ", absl::StripAsciiWhitespace(message)));
  }
  absl::Status valid = Validate(data, self_id);
  if (!valid.ok()) return valid;
  return ResDBConfig(std::move(data), self_id);
}

absl::StatusOr<ResDBConfig> ResDBConfig::LoadFromFile(const std::string& path, int64_t self_id) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("config file ", path, ": cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto config = LoadFromJson(text.str(), self_id);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat("config file ", path, ": ", config.status().message()));
  }
  // Key files are named relative to the config file, so a deployment directory can move.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  for (RegionInfo& region : *config->data_.mutable_region()) {
    for (ReplicaInfo& replica : *region.mutable_replica_info()) {
      if (replica.has_public_key_file()) {
        replica.set_public_key_file(ResolvePath(dir, replica.public_key_file()));
      }
    }
  }
  if (config->data_.has_tls()) {
    TlsConfig* tls = config->data_.mutable_tls();
    tls->set_ca_file(ResolvePath(dir, tls->ca_file()));
    tls->set_cert_file(ResolvePath(dir, tls->cert_file()));
    tls->set_key_file(ResolvePath(dir, tls->key_file()));
  }
  config->IndexReplicas();
  return config;
}

absl::Status ResDBConfig::Validate(const ResConfigData& data, int64_t self_id) {
  if (data.has_consensus_protocol() && data.consensus_protocol() != kProtocolPbft &&
      data.consensus_protocol() != kProtocolRaft) {
    return FieldError("consensus_protocol",
                      absl::StrCat("unknown protocol \"", data.consensus_protocol(),
                                   "\" (expected \"pbft\" or \"raft\")"));
  }
  if (self_id < 0) return FieldError("id", absl::StrCat(self_id, " must not be negative"));
  const std::string protocol =
      data.has_consensus_protocol() ? data.consensus_protocol() : kDefaultProtocol;
  if (data.raft_config().join_existing_cluster() && protocol != kProtocolRaft) {
    return FieldError(
        "raft_config.join_existing_cluster (--join)",
        absl::StrCat("only RAFT replicas join a running cluster; this config runs ", protocol));
  }
  for (auto check : {ValidateGeneral, ValidateRaft, ValidatePbft}) {
    absl::Status status = check(data);
    if (!status.ok()) return status;
  }
  absl::Status replicas = ValidateReplicas(data, self_id);
  if (!replicas.ok()) return replicas;
  return ValidateSecurity(data, self_id);
}

std::string ResDBConfig::ToJson(const ResConfigData& data) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(data, &json, options);
  return json;
}

std::string ResDBConfig::GetConsensusProtocol() const {
  return data_.has_consensus_protocol() ? data_.consensus_protocol() : kDefaultProtocol;
}

void ResDBConfig::SetConsensusProtocol(const std::string& protocol) {
  data_.set_consensus_protocol(protocol);
}

int ResDBConfig::GetMaxMaliciousReplicaNum() const {
  const int n = GetReplicaNum();
  if (n == 0) return 0;
  return GetConsensusProtocol() == kProtocolRaft ? (n - 1) / 2 : (n - 1) / 3;
}

int ResDBConfig::GetMinDataReceiveNum() const {
  const int f = GetMaxMaliciousReplicaNum();
  return GetConsensusProtocol() == kProtocolRaft ? f + 1 : 2 * f + 1;
}

}  // namespace resdb
