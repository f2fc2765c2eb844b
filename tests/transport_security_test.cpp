// Real RAFT and PBFT clusters of kv_service processes, started with mutual TLS as
// deployments are: only clients with a certificate of the cluster's CA get an answer, and
// only the admin certificate's admin requests reach the protocol.
//
//   transport_security_test <path of kv_service> [gtest flags]
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "interface/kv/kv_client.h"
#include "platform/config/resdb_config.h"
#include "service/tools/admin/admin_client.h"
#include "tests/local_cluster.h"

namespace resdb {
namespace {

using std::chrono::milliseconds;

std::string g_server_binary;

ResConfigData RaftSettings() {
  ResConfigData data;
  data.set_consensus_protocol("raft");
  data.set_require_signatures(false);
  data.mutable_raft_config()->set_heartbeat_interval_ms(30);
  data.mutable_raft_config()->set_election_timeout_min_ms(200);
  data.mutable_raft_config()->set_election_timeout_max_ms(400);
  return data;
}

ResConfigData PbftSettings() {
  ResConfigData data;
  data.set_consensus_protocol("pbft");
  data.set_require_signatures(true);
  data.set_heartbeat_interval_ms(50);
  return data;
}

// A write through `config` within `timeout_ms`.
absl::Status Write(const ResDBConfig& config, int timeout_ms) {
  KVClient client(config);
  client.SetTimeoutMs(timeout_ms);
  return client.Set("key", "value");
}

Request TransferLeader(int64_t to) {
  AdminRequest admin;
  admin.mutable_transfer_leader()->set_to(to);
  Request request;
  request.set_type(Request::TYPE_ADMIN);
  admin.SerializeToString(request.mutable_data());
  return request;
}

void ExpectOnlyClusterCertificatesServed(testing_util::LocalCluster& cluster) {
  cluster.StartAll();
  // The admin certificate of the cluster's CA: the cluster serves it (once it has a leader).
  ASSERT_TRUE(testing_util::WaitUntil([&] { return Write(cluster.ClientConfig(), 2000).ok(); },
                                      milliseconds(30000)))
      << "a client of the cluster's CA got no answer";

  const absl::Status plaintext = Write(cluster.PlaintextClientConfig(), 1000);
  EXPECT_FALSE(plaintext.ok());
  EXPECT_TRUE(absl::IsUnavailable(plaintext) || absl::IsDeadlineExceeded(plaintext)) << plaintext;

  const absl::Status foreign =
      Write(cluster.ClientConfigWithCertificate("client", /*foreign_ca=*/true), 1000);
  EXPECT_FALSE(foreign.ok());
  EXPECT_TRUE(absl::IsUnavailable(foreign) || absl::IsDeadlineExceeded(foreign)) << foreign;

  const ResDBConfig client = cluster.ClientConfigWithCertificate("client");
  const ResDBConfig admin = cluster.ClientConfig();
  for (const ReplicaInfo& replica : admin.GetReplicaInfos()) {
    const Request request = TransferLeader(replica.id() == 1 ? 2 : 1);
    auto denied = CallReplica(replica, request, "transfer", client, milliseconds(5000));
    ASSERT_TRUE(denied.ok()) << denied.status();
    EXPECT_EQ(denied->status(), Response::PERMISSION_DENIED) << "replica " << replica.id();
    auto allowed = CallReplica(replica, request, "transfer", admin, milliseconds(5000));
    ASSERT_TRUE(allowed.ok()) << allowed.status();
    // The protocol answers it (RAFT acts, PBFT has no such action); the transport let it by.
    EXPECT_NE(allowed->status(), Response::PERMISSION_DENIED) << "replica " << replica.id();
  }
}

TEST(TransportSecurityTest, RaftClusterServesOnlyItsCertificatesAndAdminsOnlyTheAdmin) {
  testing_util::LocalCluster cluster(g_server_binary, "raft_tls", 3, RaftSettings(),
                                     /*with_keys=*/false);
  ExpectOnlyClusterCertificatesServed(cluster);
}

TEST(TransportSecurityTest, PbftClusterServesOnlyItsCertificatesAndAdminsOnlyTheAdmin) {
  testing_util::LocalCluster cluster(g_server_binary, "pbft_tls", 4, PbftSettings(),
                                     /*with_keys=*/true);
  ExpectOnlyClusterCertificatesServed(cluster);
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  return resdb::testing_util::RunTests(argc, argv, {{"kv_service", &resdb::g_server_binary}});
}
