#include "platform/config/resdb_config.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace resdb {
namespace {

// Four replicas; `extra` is spliced into the top-level object, which sets no transport
// security.
std::string BareConfigJson(const std::string& extra = "", const std::string& replicas = "") {
  const std::string default_replicas = R"(
        {"id": 1, "ip": "127.0.0.1", "port": 10001},
        {"id": 2, "ip": "127.0.0.1", "port": 10002},
        {"id": 3, "ip": "127.0.0.1", "port": 10003},
        {"id": 4, "ip": "127.0.0.1", "port": 10004})";
  return absl::StrCat(R"({"region": [{"region_id": 1, "replica_info": [)",
                      replicas.empty() ? default_replicas : replicas, "]}]",
                      extra.empty() ? "" : ", ", extra, "}");
}

// Four plaintext replicas; `extra` is spliced into the top-level object.
std::string ConfigJson(const std::string& extra = "", const std::string& replicas = "") {
  return BareConfigJson(
      absl::StrCat(R"("allow_plaintext": true)", extra.empty() ? "" : ", ", extra), replicas);
}

// Loads `json` and returns the error message ("" when it loads).
std::string LoadError(const std::string& json, int64_t self_id = 1) {
  auto config = ResDBConfig::LoadFromJson(json, self_id);
  return config.ok() ? "" : std::string(config.status().message());
}

std::string SamplePath(const std::string& name) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"),
                      "/platform/config/samples/", name);
}

TEST(ResDBConfigTest, ProtocolDefaultsToPbftWhenAbsent) {
  auto config = ResDBConfig::LoadFromJson(ConfigJson(), 1);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->GetConfigData().has_consensus_protocol());
  EXPECT_EQ(config->GetConsensusProtocol(), "pbft");
}

TEST(ResDBConfigTest, ProtocolRaftWhenSet) {
  auto config = ResDBConfig::LoadFromJson(ConfigJson(R"("consensus_protocol": "raft")"), 2);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetConsensusProtocol(), "raft");
  EXPECT_EQ(config->GetSelfInfo().port(), 10002);
  EXPECT_EQ(config->GetMaxMaliciousReplicaNum(), 1);  // (4-1)/2
  EXPECT_EQ(config->GetMinDataReceiveNum(), 2);
}

TEST(ResDBConfigTest, SetConsensusProtocolOverrides) {
  auto config = ResDBConfig::LoadFromJson(ConfigJson(), 1);
  ASSERT_TRUE(config.ok());
  config->SetConsensusProtocol("raft");
  EXPECT_EQ(config->GetConsensusProtocol(), "raft");
}

TEST(ResDBConfigTest, PbftQuorumsFollowThreeFPlusOne) {
  auto config = ResDBConfig::LoadFromJson(ConfigJson(), 0);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->GetReplicaNum(), 4);
  EXPECT_EQ(config->GetMaxMaliciousReplicaNum(), 1);
  EXPECT_EQ(config->GetMinDataReceiveNum(), 3);
}

TEST(ResDBConfigTest, DefaultsAreDocumentedValues) {
  auto config = ResDBConfig::LoadFromJson(ConfigJson(), 1);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->GetRaftConfig().election_timeout_min_ms(), 300);
  EXPECT_EQ(config->GetRaftConfig().heartbeat_interval_ms(), 50);
  EXPECT_EQ(config->GetPbftConfig().checkpoint_interval(), 100);
  EXPECT_EQ(config->GetMaxMessageBytes(), 16 << 20);
  EXPECT_TRUE(config->IsSyncWrites());
}

TEST(ResDBConfigTest, JsonRoundTripPreservesEveryField) {
  auto config =
      ResDBConfig::LoadFromJson(ConfigJson(R"("consensus_protocol": "raft", "client_batch_num": 7,
                    "raft_config": {"election_timeout_min_ms": 500,
                                    "election_timeout_max_ms": 900},
                    "data_dir": "/var/lib/resdb")"),
                                1);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string json = ResDBConfig::ToJson(config->GetConfigData());
  auto reloaded = ResDBConfig::LoadFromJson(json, 1);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status() << "\n" << json;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(config->GetConfigData(),
                                                                 reloaded->GetConfigData()));
  EXPECT_EQ(reloaded->GetConsensusProtocol(), "raft");
  EXPECT_EQ(reloaded->GetClientBatchNum(), 7);
  EXPECT_EQ(reloaded->GetRaftConfig().election_timeout_max_ms(), 900);
}

TEST(ResDBConfigTest, CommentLinesAreIgnored) {
  const std::string json = "// a comment\n# another\n" + ConfigJson();
  EXPECT_EQ(LoadError(json), "");
}

TEST(ResDBConfigTest, RejectsUnknownProtocol) {
  EXPECT_EQ(LoadError(ConfigJson(R"("consensus_protocol": "paxos")")),
            "consensus_protocol: unknown protocol \"paxos\" (expected \"pbft\" or \"raft\")");
  EXPECT_NE(LoadError(ConfigJson(R"("consensus_protocol": "")")), "");
  EXPECT_NE(LoadError(ConfigJson(R"("consensus_protocol": "RAFT")")), "");
}

TEST(ResDBConfigTest, RejectsDuplicateReplicaId) {
  const std::string replicas = R"(
      {"id": 1, "ip": "127.0.0.1", "port": 10001},
      {"id": 2, "ip": "127.0.0.1", "port": 10002},
      {"id": 2, "ip": "127.0.0.1", "port": 10003},
      {"id": 4, "ip": "127.0.0.1", "port": 10004})";
  EXPECT_EQ(LoadError(ConfigJson("", replicas)),
            "region[0].replica_info[2].id: duplicate replica id 2");
}

TEST(ResDBConfigTest, RejectsDuplicateAddress) {
  const std::string replicas = R"(
      {"id": 1, "ip": "127.0.0.1", "port": 10001},
      {"id": 2, "ip": "127.0.0.1", "port": 10002},
      {"id": 3, "ip": "127.0.0.1", "port": 10001},
      {"id": 4, "ip": "127.0.0.1", "port": 10004})";
  EXPECT_EQ(LoadError(ConfigJson("", replicas)),
            "region[0].replica_info[2].port: duplicate address 127.0.0.1:10001");
}

TEST(ResDBConfigTest, RejectsBadAddress) {
  for (const char* ip : {"127.0.0.300", "not an ip", "", "-bad.example", "a..b"}) {
    const std::string replicas = absl::StrCat(R"(
        {"id": 1, "ip": "127.0.0.1", "port": 10001},
        {"id": 2, "ip": ")",
                                              ip, R"(", "port": 10002},
        {"id": 3, "ip": "127.0.0.1", "port": 10003},
        {"id": 4, "ip": "127.0.0.1", "port": 10004})");
    EXPECT_EQ(LoadError(ConfigJson("", replicas)),
              absl::StrCat("region[0].replica_info[1].ip: \"", ip, "\" is not a valid address"));
  }
  const std::string hostnames = R"(
      {"id": 1, "ip": "localhost", "port": 10001},
      {"id": 2, "ip": "db-2.example.org", "port": 10002},
      {"id": 3, "ip": "::1", "port": 10003},
      {"id": 4, "ip": "10.0.0.4", "port": 10004})";
  EXPECT_EQ(LoadError(ConfigJson("", hostnames)), "");
}

TEST(ResDBConfigTest, RejectsOutOfRangePort) {
  const std::string replicas = R"(
      {"id": 1, "ip": "127.0.0.1", "port": 70000},
      {"id": 2, "ip": "127.0.0.1", "port": 10002},
      {"id": 3, "ip": "127.0.0.1", "port": 10003},
      {"id": 4, "ip": "127.0.0.1", "port": 10004})";
  EXPECT_EQ(LoadError(ConfigJson("", replicas)),
            "region[0].replica_info[0].port: 70000 is out of range 1..65535");
}

TEST(ResDBConfigTest, RejectsMissingOrNonPositiveId) {
  EXPECT_EQ(LoadError(ConfigJson("", R"({"ip": "127.0.0.1", "port": 1})")),
            "region[0].replica_info[0].id: missing");
  EXPECT_EQ(LoadError(ConfigJson("", R"({"id": -3, "ip": "127.0.0.1", "port": 1})")),
            "region[0].replica_info[0].id: -3 must be positive");
}

TEST(ResDBConfigTest, RejectsSelfIdNotInConfig) {
  EXPECT_EQ(LoadError(ConfigJson(), 9),
            "region: no replica has id 9 (the id this process was started with)");
}

TEST(ResDBConfigTest, RejectsNoReplicas) {
  EXPECT_EQ(LoadError(R"({"region": []})", 0), "region: no replica_info entries");
}

TEST(ResDBConfigTest, RejectsTooFewReplicasForProtocol) {
  const std::string two = R"(
      {"id": 1, "ip": "127.0.0.1", "port": 10001},
      {"id": 2, "ip": "127.0.0.1", "port": 10002})";
  EXPECT_EQ(LoadError(ConfigJson(R"("consensus_protocol": "raft")", two)),
            "region: raft needs at least 3 replicas, config has 2");
  const std::string three = R"(
      {"id": 1, "ip": "127.0.0.1", "port": 10001},
      {"id": 2, "ip": "127.0.0.1", "port": 10002},
      {"id": 3, "ip": "127.0.0.1", "port": 10003})";
  EXPECT_EQ(LoadError(ConfigJson("", three)),
            "region: pbft needs n = 3f+1 replicas (4, 7, 10, ...), config has 3");
  EXPECT_EQ(LoadError(ConfigJson(R"("consensus_protocol": "raft")", three)), "");
}

// Two PBFT quorums of 2f+1 intersect in an honest replica only when n = 3f+1: with six
// replicas (f = 1) two quorums of three can be disjoint.
TEST(ResDBConfigTest, PbftRefusesReplicaCountsOtherThanThreeFPlusOne) {
  std::string replicas;
  for (int id = 1; id <= 7; ++id) {
    const std::string replica =
        absl::StrCat(R"({"id": )", id, R"(, "ip": "127.0.0.1", "port": )", 10000 + id, "}");
    replicas = replicas.empty() ? replica : absl::StrCat(replicas, ",", replica);
    const std::string error = LoadError(ConfigJson("", replicas));
    if (id == 4 || id == 7) {
      EXPECT_EQ(error, "") << id << " replicas";
    } else if (id > 3) {
      EXPECT_EQ(error, absl::StrCat("region: pbft needs n = 3f+1 replicas (4, 7, 10, ...), "
                                    "config has ",
                                    id));
    }
    EXPECT_EQ(
        LoadError(ConfigJson(R"("consensus_protocol": "raft")", replicas)),
        id < 3 ? absl::StrCat("region: raft needs at least 3 replicas, config has ", id) : "");
  }
}

// PBFT's primary of view v is replica (v mod n) + 1, so every id of 1..n must exist. RAFT's
// membership changes leave gaps, which it accepts.
TEST(ResDBConfigTest, PbftRequiresIdsOneToN) {
  const std::string gap = R"(
      {"id": 1, "ip": "127.0.0.1", "port": 10001},
      {"id": 2, "ip": "127.0.0.1", "port": 10002},
      {"id": 3, "ip": "127.0.0.1", "port": 10003},
      {"id": 5, "ip": "127.0.0.1", "port": 10005})";
  EXPECT_EQ(LoadError(ConfigJson("", gap)),
            "region: pbft replica ids must be exactly 1..4, config has 1, 2, 3, 5");
  EXPECT_EQ(LoadError(ConfigJson(R"("consensus_protocol": "raft")", gap)), "");
}

TEST(ResDBConfigTest, RejectsOutOfRangeParameters) {
  EXPECT_EQ(LoadError(ConfigJson(R"("raft_config": {"election_timeout_min_ms": 60})")),
            "raft_config.election_timeout_min_ms: 60 is out of range 100..600000");
  EXPECT_EQ(LoadError(ConfigJson(R"("raft_config": {"election_timeout_min_ms": 400,
                                                    "election_timeout_max_ms": 350})")),
            "raft_config.election_timeout_max_ms: 350 is out of range 400..600000");
  EXPECT_EQ(LoadError(ConfigJson(R"("raft_config": {"heartbeat_interval_ms": 0})")),
            "raft_config.heartbeat_interval_ms: 0 is out of range 1..60000");
  EXPECT_EQ(LoadError(ConfigJson(R"("client_batch_num": 0)")),
            "client_batch_num: 0 is out of range 1..100000");
  EXPECT_EQ(LoadError(ConfigJson(R"("max_message_bytes": 100)")),
            "max_message_bytes: 100 is out of range 65536..1073741824");
  // A batch and its envelope must fit in one replica message, and a request in one batch.
  EXPECT_EQ(LoadError(ConfigJson(R"("max_batch_bytes": 9000000)")),
            "max_batch_bytes: 9000000 is out of range 4096..8388608");
  EXPECT_EQ(LoadError(ConfigJson(R"("max_message_bytes": 1048576)")),
            "max_batch_bytes: 4194304 is out of range 4096..524288");
  EXPECT_EQ(LoadError(ConfigJson(R"("max_request_bytes": 5000000)")),
            "max_request_bytes: 5000000 is out of range 1024..4194304");
  EXPECT_EQ(LoadError(ConfigJson(R"("max_message_bytes": 2097152, "max_batch_bytes": 1048576,
                                    "max_request_bytes": 262144)")),
            "");
  EXPECT_EQ(LoadError(ConfigJson(R"("pbft_config": {"checkpoint_interval": 100,
                                                    "watermark_window": 150})")),
            "pbft_config.watermark_window: 150 is out of range 200..16777216");
}

TEST(ResDBConfigTest, RejectsMalformedJsonAndUnknownFields) {
  EXPECT_NE(LoadError("{\"region\": [").find("invalid config JSON"), std::string::npos);
  EXPECT_NE(LoadError(ConfigJson(R"("consensus_protocl": "raft")")).find("consensus_protocl"),
            std::string::npos);
  EXPECT_NE(LoadError(ConfigJson(R"("client_batch_num": "many")")).find("invalid config JSON"),
            std::string::npos);
}

TEST(ResDBConfigTest, MissingFileNamesThePath) {
  auto config = ResDBConfig::LoadFromFile("/nonexistent/dir/server.config", 1);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "config file /nonexistent/dir/server.config: cannot be read");
}

TEST(ResDBConfigTest, FileErrorsNameTheFileAndField) {
  const std::string path = testing::TempDir() + "/bad.config";
  std::ofstream(path) << ConfigJson(R"("consensus_protocol": "paxos")");
  auto config = ResDBConfig::LoadFromFile(path, 1);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            absl::StrCat("config file ", path,
                         ": consensus_protocol: unknown protocol \"paxos\" (expected \"pbft\" "
                         "or \"raft\")"));
}

TEST(ResDBConfigTest, RelativeKeyFilesResolveAgainstConfigDirectory) {
  const std::string path = testing::TempDir() + "/keys.config";
  std::ofstream(path) << ConfigJson("", R"(
      {"id": 1, "ip": "127.0.0.1", "port": 10001, "public_key_file": "keys/replica1.pub"},
      {"id": 2, "ip": "127.0.0.1", "port": 10002, "public_key_file": "/abs/replica2.pub"},
      {"id": 3, "ip": "127.0.0.1", "port": 10003},
      {"id": 4, "ip": "127.0.0.1", "port": 10004})");
  auto config = ResDBConfig::LoadFromFile(path, 1);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetReplicaInfos()[0].public_key_file(),
            testing::TempDir() + "/keys/replica1.pub");
  EXPECT_EQ(config->GetSelfInfo().public_key_file(), testing::TempDir() + "/keys/replica1.pub");
  EXPECT_EQ(config->GetReplicaInfos()[1].public_key_file(), "/abs/replica2.pub");
}

TEST(ResDBConfigTest, SampleConfigsLoad) {
  auto pbft = ResDBConfig::LoadFromFile(SamplePath("kv_server_pbft.config"), 1);
  ASSERT_TRUE(pbft.ok()) << pbft.status();
  EXPECT_EQ(pbft->GetConsensusProtocol(), "pbft");
  auto raft = ResDBConfig::LoadFromFile(SamplePath("kv_server_raft.config"), 3);
  ASSERT_TRUE(raft.ok()) << raft.status();
  EXPECT_EQ(raft->GetConsensusProtocol(), "raft");
  auto fallback = ResDBConfig::LoadFromFile(SamplePath("kv_server_default.config"), 1);
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ(fallback->GetConsensusProtocol(), "pbft");
}

constexpr char kTls[] =
    R"("tls": {"ca_file": "certs/ca.crt", "cert_file": "certs/replica{id}.crt",
               "key_file": "certs/replica{id}.key"})";

TEST(ResDBConfigTest, RequiresTlsOrExplicitPlaintext) {
  EXPECT_EQ(LoadError(BareConfigJson()),
            "tls: missing: set tls (ca_file, cert_file, key_file) or, to run without "
            "authentication, allow_plaintext: true");
  EXPECT_EQ(LoadError(BareConfigJson(kTls)), "");
  EXPECT_EQ(LoadError(BareConfigJson(R"("allow_plaintext": true)")), "");
}

// kv_service --join sets raft_config.join_existing_cluster; only RAFT replicas join.
TEST(ResDBConfigTest, OnlyRaftReplicasJoinARunningCluster) {
  const std::string join = R"("raft_config": {"join_existing_cluster": true})";
  EXPECT_EQ(LoadError(ConfigJson(absl::StrCat(R"("consensus_protocol": "raft", )", join))), "");
  EXPECT_EQ(LoadError(ConfigJson(absl::StrCat(R"("consensus_protocol": "pbft", )", join))),
            "raft_config.join_existing_cluster (--join): only RAFT replicas join a running "
            "cluster; this config runs pbft");
}

TEST(ResDBConfigTest, RejectsTlsTogetherWithPlaintext) {
  EXPECT_EQ(LoadError(ConfigJson(kTls)), "allow_plaintext: must not be true when tls is set");
}

TEST(ResDBConfigTest, RejectsIncompleteTls) {
  EXPECT_EQ(LoadError(BareConfigJson(R"("tls": {"ca_file": "ca.crt", "cert_file": "a.crt"})")),
            "tls.key_file: missing");
  EXPECT_EQ(LoadError(BareConfigJson(R"("tls": {"cert_file": "a.crt", "key_file": "a.key"})")),
            "tls.ca_file: missing");
}

TEST(ResDBConfigTest, ClientConfigMustNameItsOwnCertificate) {
  EXPECT_EQ(LoadError(BareConfigJson(kTls), 0),
            "tls.cert_file: \"{id}\" is for server configs; a client names its own certificate");
}

TEST(ResDBConfigTest, IdPlaceholderNamesTheReplicasOwnFiles) {
  auto config = ResDBConfig::LoadFromJson(BareConfigJson(kTls), 3);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->UsesTls());
  EXPECT_EQ(config->GetTlsCertFile(), "certs/replica3.crt");
  EXPECT_EQ(config->GetTlsKeyFile(), "certs/replica3.key");
}

TEST(ResDBConfigTest, RelativeTlsFilesResolveAgainstConfigDirectory) {
  const std::string path = testing::TempDir() + "/tls.config";
  std::ofstream(path) << BareConfigJson(kTls);
  auto config = ResDBConfig::LoadFromFile(path, 2);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string dir = path.substr(0, path.rfind('/') + 1);
  EXPECT_EQ(config->GetConfigData().tls().ca_file(), dir + "certs/ca.crt");
  EXPECT_EQ(config->GetTlsCertFile(), dir + "certs/replica2.crt");
  EXPECT_EQ(config->GetTlsKeyFile(), dir + "certs/replica2.key");
}

TEST(ResDBConfigTest, AccessSettingsHaveSafeDefaults) {
  auto config = ResDBConfig::LoadFromJson(BareConfigJson(kTls), 1);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->GetConfigData().admin_identities_size(), 0);
  EXPECT_FALSE(config->GetConfigData().allow_plaintext_admin());
  EXPECT_EQ(config->GetConfigData().max_admin_timeout_ms(), 300000);
  EXPECT_EQ(config->GetConfigData().query_access(), "open");
}

TEST(ResDBConfigTest, RejectsBadAccessSettings) {
  EXPECT_EQ(LoadError(ConfigJson(R"("query_access": "everyone")")),
            "query_access: \"everyone\" (expected \"open\" or \"admin\")");
  EXPECT_EQ(LoadError(ConfigJson(R"("max_admin_timeout_ms": 0)")),
            "max_admin_timeout_ms: 0 is out of range 1..86400000");
  EXPECT_EQ(LoadError(ConfigJson(R"("admin_identities": ["admin", ""])")),
            "admin_identities[1]: empty");
  EXPECT_EQ(LoadError(BareConfigJson(absl::StrCat(kTls, R"(, "allow_plaintext_admin": true)"))),
            "allow_plaintext_admin: only applies with allow_plaintext: true");
}

}  // namespace
}  // namespace resdb
