// Runs real kv_service clusters (RAFT with 3 replicas, PBFT with 4) on 127.0.0.1 and checks
// that large client requests cost a bounded amount: requests above max_request_bytes are
// refused with the limit named, the accepted ones are batched so that every batch fits in a
// replica message, and a normal write right after goes through at once; under PBFT, a view
// change with those large batches prepared fits in one message too.
//
//   limits_test <path of kv_service> [gtest flags]
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "interface/kv/kv_client.h"
#include "platform/config/resdb_config.h"
#include "tests/local_cluster.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string g_server_binary;

constexpr int kClients = 16;
constexpr size_t kRefusedBytes = 2000000;   // above max_request_bytes (1.5 MiB)
constexpr size_t kAcceptedBytes = 1400000;  // below it: 16 of them are 22 MB, above a message

ResConfigData Settings(const std::string& protocol) {
  ResConfigData data;
  data.set_consensus_protocol(protocol);
  data.set_require_signatures(protocol == "pbft");
  data.set_client_timeout_ms(5000);
  data.set_heartbeat_interval_ms(50);
  data.mutable_raft_config()->set_heartbeat_interval_ms(30);
  data.mutable_raft_config()->set_election_timeout_min_ms(200);
  data.mutable_raft_config()->set_election_timeout_max_ms(400);
  return data;
}

// OK once a write of `key` succeeded within `timeout` (retried), else the last error.
absl::Status WriteSucceeds(const ResDBConfig& config, const std::string& key,
                           milliseconds timeout) {
  KVClient client(config);
  const auto deadline = Clock::now() + timeout;
  absl::Status written = absl::DeadlineExceededError("no attempt");
  while (Clock::now() < deadline) {
    written = client.Set(key, "ready");
    if (written.ok()) return written;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return written;
}

// Each of `clients` clients writes `per_client` values of kAcceptedBytes at once, keys
// "large<client>_<i>"; returns how many were acknowledged, with one failure per client in
// `failures`.
int WriteLargeValues(const testing_util::LocalCluster& cluster, int clients, int per_client,
                     std::vector<std::string>* failures) {
  std::atomic<int> accepted{0};
  failures->assign(clients, "");
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      KVClient client(cluster.ClientConfig());
      client.SetTimeoutMs(60000);
      for (int i = 0; i < per_client; ++i) {
        absl::Status written = client.Set(absl::StrCat("large", c, "_", i),
                                          std::string(kAcceptedBytes, static_cast<char>('a' + c)));
        if (written.ok()) {
          ++accepted;
        } else {
          (*failures)[c] = absl::StrCat("1.4 MB write: ", written.ToString());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return accepted.load();
}

class LimitsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LimitsTest, LargeValuesNeverStallTheCluster) {
  const std::string protocol = GetParam();
  const int replicas = protocol == "pbft" ? 4 : 3;
  testing_util::LocalCluster cluster(g_server_binary, "limits_" + protocol, replicas,
                                     Settings(protocol), /*with_keys=*/protocol == "pbft");
  cluster.StartAll();
  // The first calls go out while the replicas are still starting, as a client started with
  // its cluster makes them.
  const absl::Status warm_up =
      WriteSucceeds(cluster.ClientConfig(), "warm-up", milliseconds(30000));
  ASSERT_TRUE(warm_up.ok()) << "the cluster never took a write: " << warm_up;

  // Every client sends one value above the request limit, at once, then two below it.
  std::atomic<int> refused_with_the_limit{0};
  std::vector<std::string> refusal_failures(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      KVClient client(cluster.ClientConfig());
      client.SetTimeoutMs(60000);
      absl::Status refused = client.Set(absl::StrCat("big", c), std::string(kRefusedBytes, 'r'));
      if (absl::IsInvalidArgument(refused) &&
          refused.message().find("max_request_bytes") != absl::string_view::npos) {
        ++refused_with_the_limit;
      } else {
        refusal_failures[c] = absl::StrCat("2 MB write: ", refused.ToString());
      }
    });
  }
  for (std::thread& client : clients) client.join();
  std::vector<std::string> failures;
  const int accepted = WriteLargeValues(cluster, kClients, 2, &failures);
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(refusal_failures[c], "") << "client " << c;
    EXPECT_EQ(failures[c], "") << "client " << c;
  }
  EXPECT_EQ(refused_with_the_limit.load(), kClients);
  EXPECT_EQ(accepted, 2 * kClients);

  // A normal write right after goes through at once.
  KVClient client(cluster.ClientConfig());
  client.SetTimeoutMs(3000);
  const auto started = Clock::now();
  absl::Status after = client.Set("after", "small");
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  EXPECT_TRUE(after.ok()) << after;
  std::printf(
      "%s: 16 clients, 16 refused 2 MB writes, %d accepted 1.4 MB writes; the next write "
      "took %ld ms\n",
      protocol.c_str(), accepted, static_cast<long>(took.count()));

  // The values replicated (RAFT: every replica has them, read locally; PBFT: f+1 replicas
  // agree on them), and the transport never had to drop a message for its size.
  if (protocol == "raft") {
    for (int id = 1; id <= replicas; ++id) {
      KVClient local(cluster.ClientConfig(id));
      local.SetConsistency("stale");
      // A follower applies what the leader acknowledged a little later.
      EXPECT_TRUE(testing_util::WaitUntil([&] { return local.Get("after").ok(); },
                                          std::chrono::seconds(10)))
          << "replica " << id << " never applied the last write";
      absl::StatusOr<std::string> value = local.Get("large5_1");
      ASSERT_TRUE(value.ok()) << "replica " << id << ": " << value.status();
      EXPECT_EQ(*value, std::string(kAcceptedBytes, 'f')) << "replica " << id;
    }
  } else {
    absl::StatusOr<std::string> value = client.Get("large5_1");
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(*value, std::string(kAcceptedBytes, 'f'));
  }
  std::map<int64_t, ReplicaStatus> statuses = cluster.Statuses();
  EXPECT_EQ(static_cast<int>(statuses.size()), replicas);
  int64_t refused = 0;
  for (const auto& [id, status] : statuses) {
    EXPECT_EQ(status.metrics().at("network_send_oversized"), 0) << "replica " << id;
    refused += status.metrics().at("network_oversized_requests");
  }
  EXPECT_GE(refused, kClients);
}

// PBFT: the primary crashes with many large batches prepared above the stable checkpoint.
// The view change names them by digest, so its messages fit in max_message_bytes and the
// three others carry on under a new primary with every acknowledged value.
TEST(PbftLimitsTest, ViewChangeAfterLargeBatchesFitsInOneMessage) {
  constexpr int kWriters = 8;
  ResConfigData settings = Settings("pbft");
  settings.mutable_pbft_config()->set_view_change_timeout_ms(1000);
  testing_util::LocalCluster cluster(g_server_binary, "limits_pbft_view_change", 4, settings,
                                     /*with_keys=*/true);
  cluster.StartAll();
  const absl::Status warm_up =
      WriteSucceeds(cluster.ClientConfig(), "warm-up", milliseconds(30000));
  ASSERT_TRUE(warm_up.ok()) << "the cluster never took a write: " << warm_up;
  std::vector<std::string> failures;
  const int accepted = WriteLargeValues(cluster, kWriters, 2, &failures);
  for (int c = 0; c < kWriters; ++c) EXPECT_EQ(failures[c], "") << "client " << c;
  ASSERT_EQ(accepted, 2 * kWriters);

  std::map<int64_t, ReplicaStatus> statuses = cluster.Statuses();
  ASSERT_EQ(statuses.size(), 4u);
  const int64_t primary = statuses.begin()->second.primary_id();
  ASSERT_NE(primary, 0);
  // Far fewer seqs than a checkpoint interval: every large batch is still prepared evidence.
  EXPECT_EQ(statuses.begin()->second.stable_checkpoint(), 0u);
  cluster.Kill(static_cast<int>(primary));
  const auto killed_at = Clock::now();
  const absl::Status after = WriteSucceeds(cluster.ClientConfig(), "after", milliseconds(30000));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at);
  ASSERT_TRUE(after.ok()) << "no write within 30 s of killing primary " << primary << ": " << after;
  std::printf("pbft: %d 1.4 MB values written, primary %ld killed; the next write took %ld ms\n",
              accepted, static_cast<long>(primary), static_cast<long>(took.count()));

  KVClient client(cluster.ClientConfig());
  for (int c = 0; c < kWriters; ++c) {
    absl::StatusOr<std::string> value = client.Get(absl::StrCat("large", c, "_1"));
    ASSERT_TRUE(value.ok()) << "large" << c << "_1: " << value.status();
    EXPECT_EQ(*value, std::string(kAcceptedBytes, static_cast<char>('a' + c)));
  }
  for (const auto& [id, status] : cluster.Statuses()) {
    EXPECT_GT(status.view(), 0u) << "replica " << id;
    EXPECT_EQ(status.metrics().at("network_send_oversized"), 0) << "replica " << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, LimitsTest, ::testing::Values("raft", "pbft"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  return resdb::testing_util::RunTests(argc, argv, {{"kv_service", &resdb::g_server_binary}});
}
