// Runs real kv_service processes as a 4-replica PBFT cluster on 127.0.0.1 with signed
// replica messages and checks set/get through the primary and through every backup and that
// every replica executes the same sequence. Every process the test starts is killed when its
// cluster object goes away, also when a check fails.
//
//   pbft_cluster_test <path of kv_service> [gtest flags]
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "interface/kv/kv_client.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "service/tools/admin/admin_client.h"
#include "tests/local_cluster.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string g_server_binary;

// Four kv_service processes running PBFT with their own Ed25519 keys; every one still
// running is killed at the end.
class Cluster : public testing_util::LocalCluster {
 public:
  static constexpr int kReplicas = 4;

  explicit Cluster(const std::string& name)
      : LocalCluster(g_server_binary, name, kReplicas, Settings(), /*with_keys=*/true) {}

  static ResConfigData Settings() {
    ResConfigData data;
    data.set_consensus_protocol("pbft");
    data.set_require_signatures(true);
    data.set_client_timeout_ms(5000);
    data.set_heartbeat_interval_ms(50);
    data.mutable_pbft_config()->set_checkpoint_interval(4);
    data.mutable_pbft_config()->set_watermark_window(16);
    return data;
  }

  // The primary every replica agrees on, 0 if none within `timeout`.
  int64_t WaitForPrimary(milliseconds timeout = milliseconds(30000)) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto statuses = Statuses();
      int64_t primary = 0;
      for (auto& [id, status] : statuses) {
        if (status.role() == "primary") primary = id;
      }
      bool agreed = primary != 0 && static_cast<int>(statuses.size()) == kReplicas;
      for (auto& [id, status] : statuses) {
        if (status.primary_id() != primary) agreed = false;
      }
      if (agreed) return primary;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return 0;
  }

  // The statuses of all replicas, retried until every replica answers (empty on timeout).
  std::map<int64_t, ReplicaStatus> AllStatuses(milliseconds timeout = milliseconds(10000)) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto statuses = Statuses();
      if (static_cast<int>(statuses.size()) == kReplicas) return statuses;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return {};
  }

  // Waits until every replica has executed at least `seq`.
  bool WaitForExecuted(uint64_t seq, milliseconds timeout = milliseconds(30000)) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto statuses = Statuses();
      bool all = static_cast<int>(statuses.size()) == kReplicas;
      for (auto& [id, status] : statuses) {
        if (status.executed_seq() < seq) all = false;
      }
      if (all) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }
};

TEST(PbftClusterTest, SignedClusterServesSetAndGetThroughPrimaryAndBackups) {
  Cluster cluster("pbft_every_replica");
  cluster.StartAll();
  const int64_t primary = cluster.WaitForPrimary();
  ASSERT_EQ(primary, 1) << "the replicas do not agree on primary 1 of view 0";
  for (int id = 1; id <= Cluster::kReplicas; ++id) {
    // A client that knows only replica `id`: backups forward to the primary.
    KVClient client(cluster.ClientConfig(id));
    const std::string key = absl::StrCat("key", id);
    absl::Status set = client.Set(key, absl::StrCat("value", id));
    ASSERT_TRUE(set.ok()) << "set via replica " << id << ": " << set;
    auto value = client.Get(key);
    ASSERT_TRUE(value.ok()) << "get via replica " << id << ": " << value.status();
    EXPECT_EQ(*value, absl::StrCat("value", id));
  }
  auto statuses = cluster.AllStatuses();
  ASSERT_EQ(statuses.size(), 4u);
  // The replica that answered a client may be ahead of the others.
  uint64_t executed = 0;
  for (auto& [id, status] : statuses) executed = std::max(executed, status.executed_seq());
  EXPECT_GE(executed, 8u);  // four sets and four gets, each ordered
  ASSERT_TRUE(cluster.WaitForExecuted(executed)) << "executed_seq did not converge";
  for (int id = 1; id <= Cluster::kReplicas; ++id) {
    KVClient client(cluster.ClientConfig(id));
    for (int k = 1; k <= Cluster::kReplicas; ++k) {
      auto value = client.Get(absl::StrCat("key", k));
      ASSERT_TRUE(value.ok()) << value.status();
      EXPECT_EQ(*value, absl::StrCat("value", k));
    }
  }
  // Every replica reaches a stable checkpoint (interval 4, at least 24 seqs ordered).
  bool stable = false;
  for (const auto deadline = Clock::now() + milliseconds(20000); !stable && Clock::now() < deadline;
       std::this_thread::sleep_for(milliseconds(50))) {
    statuses = cluster.AllStatuses();
    stable = statuses.size() == 4u;
    for (auto& [id, status] : statuses) stable = stable && status.stable_checkpoint() > 0;
  }
  ASSERT_EQ(statuses.size(), 4u);
  int64_t forwarded = 0;
  for (auto& [id, status] : statuses) {
    EXPECT_EQ(status.protocol(), "pbft");
    EXPECT_EQ(status.role(), id == primary ? "primary" : "backup");
    EXPECT_EQ(status.primary_id(), primary);
    EXPECT_EQ(status.view(), 0u);
    EXPECT_GT(status.stable_checkpoint(), 0u) << "replica " << id;
    auto it = status.metrics().find("pbft_forwarded_requests");
    if (it != status.metrics().end()) forwarded += it->second;
  }
  // The three backups forwarded their clients' requests to the primary.
  EXPECT_GE(forwarded, 6);
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  return resdb::testing_util::RunTests(argc, argv, {{"kv_service", &resdb::g_server_binary}});
}
