// Runs real kv_service processes as a 3-replica RAFT cluster on 127.0.0.1 and checks
// replication, follower forwarding, leader failover, restart catch-up, loss of the majority
// and exactly-once writes under a leader crash. Every process the test starts is killed
// when its cluster object goes away, also when a check fails.
//
//   raft_cluster_test <path of kv_service> [gtest flags]
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
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "interface/kv/kv_client.h"
#include "platform/config/resdb_config.h"
#include "service/tools/admin/admin_client.h"
#include "service/tools/testing/tool_runner.h"
#include "tests/local_cluster.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing_util::WaitUntil;

std::string g_server_binary;
std::string g_admin_binary;

// Three kv_service processes running RAFT; every one still running is killed at the end.
class Cluster : public testing_util::LocalCluster {
 public:
  static constexpr int kReplicas = 3;

  explicit Cluster(const std::string& name, const ResConfigData& settings = Settings())
      : LocalCluster(g_server_binary, name, kReplicas, settings, /*with_keys=*/false) {}

  static ResConfigData Settings() {
    ResConfigData data;
    data.set_consensus_protocol("raft");
    data.set_require_signatures(false);
    data.set_client_timeout_ms(5000);
    data.mutable_raft_config()->set_heartbeat_interval_ms(30);
    data.mutable_raft_config()->set_election_timeout_min_ms(200);
    data.mutable_raft_config()->set_election_timeout_max_ms(400);
    return data;
  }

  // The leader every running replica agrees on, 0 if none within `timeout`.
  int64_t WaitForLeader(milliseconds timeout = milliseconds(30000)) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto statuses = Statuses();
      int running = 0;
      for (int id = 1; id <= replicas(); ++id) running += Running(id) ? 1 : 0;
      int64_t leader = 0;
      for (auto& [id, status] : statuses) {
        if (status.role() == "leader") leader = id;
      }
      bool agreed = leader != 0 && static_cast<int>(statuses.size()) == running;
      for (auto& [id, status] : statuses) {
        if (status.leader_id() != leader) agreed = false;
      }
      if (agreed) return leader;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return 0;
  }

  // Waits until every running replica has applied at least `index`.
  bool WaitForApplied(uint64_t index, milliseconds timeout = milliseconds(30000)) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto statuses = Statuses();
      int running = 0;
      for (int id = 1; id <= replicas(); ++id) running += Running(id) ? 1 : 0;
      bool all = static_cast<int>(statuses.size()) == running;
      for (auto& [id, status] : statuses) {
        if (status.applied_index() < index) all = false;
      }
      if (all) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }

  uint64_t AppliedIndex(int64_t id) const {
    auto statuses = Statuses();
    auto it = statuses.find(id);
    return it == statuses.end() ? 0 : it->second.applied_index();
  }
};

// Every running replica reports the same applied index and state digest (within 10 s).
bool SameStateEverywhere(const Cluster& cluster) {
  return WaitUntil(
      [&] {
        auto statuses = cluster.Statuses();
        if (static_cast<int>(statuses.size()) != cluster.RunningCount()) return false;
        const ReplicaStatus& first = statuses.begin()->second;
        for (const auto& [id, status] : statuses) {
          if (status.applied_index() != first.applied_index() ||
              status.state_digest() != first.state_digest() || status.state_digest().empty()) {
            return false;
          }
        }
        return true;
      },
      seconds(10));
}

// Writes "<prefix><i>" = "v<i>" for i in [0, count) from `threads` clients at once; returns the
// first failure.
absl::Status WriteKeys(const Cluster& cluster, const std::string& prefix, int count, int threads) {
  std::vector<std::thread> writers;
  std::vector<absl::Status> results(threads);
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      KVClient client(cluster.ClientConfig());
      for (int i = t; i < count && results[t].ok(); i += threads) {
        results[t] = client.Set(absl::StrCat(prefix, i), absl::StrCat("v", i));
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (const absl::Status& result : results) {
    if (!result.ok()) return result;
  }
  return absl::OkStatus();
}

// A follower stopped while the others take thousands of writes and compact their logs rejoins
// through InstallSnapshot and ends with the leader's data. RESDB_LONG_TESTS=1 (scripts/test.sh
// --long) writes 50,000 keys with the default snapshot settings.
TEST(RaftClusterTest, StoppedFollowerRejoinsThroughASnapshot) {
  const bool long_run = std::getenv("RESDB_LONG_TESTS") != nullptr;
  const int writes = long_run ? 50000 : 3000;
  ResConfigData settings = Cluster::Settings();
  if (!long_run) {
    settings.mutable_raft_config()->set_snapshot_threshold(500);
    settings.mutable_raft_config()->set_log_tail_after_snapshot(100);
    settings.mutable_raft_config()->set_snapshot_chunk_bytes(16 * 1024);
  }
  Cluster cluster("snapshot_rejoin", settings);
  cluster.StartAll();
  const int64_t leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0) << "no leader elected";
  const int follower = leader == Cluster::kReplicas ? 1 : static_cast<int>(leader) + 1;
  ASSERT_TRUE(WriteKeys(cluster, "early", 10, 1).ok());
  ASSERT_TRUE(cluster.WaitForApplied(cluster.AppliedIndex(leader)));
  const uint64_t follower_applied = cluster.AppliedIndex(follower);
  cluster.Kill(follower);

  absl::Status written = WriteKeys(cluster, "key", writes, 16);
  ASSERT_TRUE(written.ok()) << written;
  auto statuses = cluster.Statuses();
  ASSERT_EQ(statuses.count(leader), 1u);
  const ReplicaStatus before = statuses[leader];
  ASSERT_GT(before.snapshot_index(), follower_applied);
  ASSERT_GT(before.first_index(), follower_applied + 1)
      << "the leader's log still covers the follower: no snapshot is needed";

  const auto restarted = Clock::now();
  cluster.Start(follower);
  ASSERT_TRUE(cluster.WaitForApplied(before.applied_index(), milliseconds(120000)));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - restarted);
  std::printf("follower %d, %lu entries behind, caught up through a snapshot in %ld ms\n", follower,
              static_cast<unsigned long>(before.applied_index() - follower_applied),
              static_cast<long>(took.count()));
  statuses = cluster.Statuses();
  ASSERT_EQ(statuses.count(follower), 1u);
  EXPECT_GE(statuses[follower].snapshot_index(), before.snapshot_index());
  EXPECT_GE(statuses[follower].metrics().at("raft_snapshots_installed"), 1);
  EXPECT_TRUE(SameStateEverywhere(cluster)) << "the follower's state digest is not the leader's";

  // Its own data, read locally, is the leader's.
  KVClient local(cluster.ClientConfig(follower));
  local.SetConsistency("stale");
  const int step = long_run ? 10 : 1;
  for (int i = 0; i < writes; i += step) {
    auto value = local.Get(absl::StrCat("key", i));
    ASSERT_TRUE(value.ok()) << "key" << i << ": " << value.status();
    ASSERT_EQ(*value, absl::StrCat("v", i));
  }
  ASSERT_TRUE(WriteKeys(cluster, "late", 10, 1).ok());
}

// Leader failover time: kill -9 of the leader to the next write a client gets acknowledged,
// printed per trial and as median and max (figures, not assertions: the machine's load decides
// them). 20 trials with RESDB_LONG_TESTS=1, 2 otherwise.
TEST(RaftClusterTest, LeaderFailoverTimes) {
  const int trials = std::getenv("RESDB_LONG_TESTS") != nullptr ? 20 : 2;
  Cluster cluster("failover_times");
  cluster.StartAll();
  KVClient client(cluster.ClientConfig());
  std::vector<int64_t> took_ms;
  for (int trial = 0; trial < trials; ++trial) {
    const int64_t leader = cluster.WaitForLeader();
    ASSERT_NE(leader, 0) << "trial " << trial;
    ASSERT_TRUE(client.Set(absl::StrCat("before", trial), "x").ok());
    const auto killed = Clock::now();
    cluster.Kill(static_cast<int>(leader));
    absl::Status set = client.Set(absl::StrCat("after", trial), "x");
    const auto acked = Clock::now();
    ASSERT_TRUE(set.ok()) << "trial " << trial << ": " << set;
    took_ms.push_back(std::chrono::duration_cast<milliseconds>(acked - killed).count());
    std::printf("failover trial %d: leader %ld killed, next write acknowledged after %ld ms\n",
                trial, static_cast<long>(leader), static_cast<long>(took_ms.back()));
    // The old leader comes back and catches up before the next trial.
    cluster.Start(static_cast<int>(leader));
    const int64_t next = cluster.WaitForLeader();
    ASSERT_NE(next, 0);
    ASSERT_TRUE(cluster.WaitForApplied(cluster.AppliedIndex(next)));
  }
  std::sort(took_ms.begin(), took_ms.end());
  std::printf("failover over %d trials: median %ld ms, max %ld ms\n", trials,
              static_cast<long>(took_ms[took_ms.size() / 2]), static_cast<long>(took_ms.back()));
}

// Restart time of a follower whose log holds many entries (one write per entry, no snapshot):
// kill -9 to serving again with the leader's applied index, printed. 100,000 entries with
// RESDB_LONG_TESTS=1, 2,000 otherwise.
TEST(RaftClusterTest, RestartTimeWithALongLog) {
  const bool long_run = std::getenv("RESDB_LONG_TESTS") != nullptr;
  const int entries = long_run ? 100000 : 2000;
  ResConfigData settings = Cluster::Settings();
  settings.set_client_batch_num(1);
  settings.mutable_raft_config()->set_snapshot_threshold(int64_t{1} << 40);
  Cluster cluster("long_log_restart", settings);
  cluster.StartAll();
  const int64_t leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0);
  absl::Status written = WriteKeys(cluster, "key", entries, 32);
  ASSERT_TRUE(written.ok()) << written;
  const uint64_t applied = cluster.AppliedIndex(leader);
  ASSERT_GE(applied, static_cast<uint64_t>(entries));
  ASSERT_TRUE(cluster.WaitForApplied(applied, milliseconds(120000)));
  const int follower = leader == Cluster::kReplicas ? 1 : static_cast<int>(leader) + 1;

  cluster.Kill(follower);
  const auto restarted = Clock::now();
  cluster.Start(follower);
  ASSERT_TRUE(cluster.WaitForApplied(applied, milliseconds(120000)));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - restarted);
  auto statuses = cluster.Statuses();
  ASSERT_EQ(statuses.count(follower), 1u);
  EXPECT_GE(statuses[follower].last_index() - statuses[follower].first_index() + 1,
            static_cast<uint64_t>(entries));
  std::printf(
      "restart of replica %d with a %lu-entry log: serving at applied index %lu after "
      "%ld ms\n",
      follower,
      static_cast<unsigned long>(statuses[follower].last_index() -
                                 statuses[follower].first_index() + 1),
      static_cast<unsigned long>(applied), static_cast<long>(took.count()));
}

// resdb_admin transfer-leader, run as an operator would, moves leadership while a client keeps
// writing, and the cluster serves from the new leader.
TEST(RaftClusterTest, TransferLeaderCommandMovesLeadership) {
  Cluster cluster("transfer");
  cluster.StartAll();
  const int64_t leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0) << "no leader elected";
  const int64_t target = leader == Cluster::kReplicas ? 1 : leader + 1;
  KVClient client(cluster.ClientConfig());
  ASSERT_TRUE(client.Set("before", "1").ok());

  const testing_util::RunResult moved = testing_util::RunBinary(
      g_admin_binary,
      {"--config", cluster.client_config_path(), "transfer-leader", "--to", absl::StrCat(target)});
  ASSERT_EQ(moved.exit_code, 0) << moved.out << moved.err;
  EXPECT_NE(moved.out.find(absl::StrCat("from replica ", leader, " to replica ", target)),
            std::string::npos)
      << moved.out;
  EXPECT_EQ(cluster.WaitForLeader(), target);
  ASSERT_TRUE(client.Set("after", "2").ok());
  auto value = client.Get("before");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "1");

  // Asking for the replica that already leads changes nothing.
  const testing_util::RunResult again = testing_util::RunBinary(
      g_admin_binary,
      {"--config", cluster.client_config_path(), "transfer-leader", "--to", absl::StrCat(target)});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already leads"), std::string::npos) << again.out;
}

TEST(RaftClusterTest, WritesThroughEveryReplicaAreReadEverywhere) {
  Cluster cluster("every_replica");
  cluster.StartAll();
  const int64_t leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0) << "no leader elected";
  for (int id = 1; id <= Cluster::kReplicas; ++id) {
    // A client that knows only replica `id`: followers must forward.
    KVClient client(cluster.ClientConfig(id));
    const std::string key = absl::StrCat("key", id);
    absl::Status set = client.Set(key, absl::StrCat("value", id));
    ASSERT_TRUE(set.ok()) << "set via replica " << id << ": " << set;
    auto value = client.Get(key);
    ASSERT_TRUE(value.ok()) << "get via replica " << id << ": " << value.status();
    EXPECT_EQ(*value, absl::StrCat("value", id));
  }
  for (int id = 1; id <= Cluster::kReplicas; ++id) {
    KVClient client(cluster.ClientConfig(id));
    for (int k = 1; k <= Cluster::kReplicas; ++k) {
      auto value = client.Get(absl::StrCat("key", k));  // linearizable
      ASSERT_TRUE(value.ok()) << value.status();
      EXPECT_EQ(*value, absl::StrCat("value", k));
    }
  }
  auto statuses = cluster.Statuses();
  ASSERT_EQ(statuses.size(), 3u);
  int64_t forwarded = 0;
  for (auto& [id, status] : statuses) {
    EXPECT_EQ(status.protocol(), "raft");
    EXPECT_EQ(status.leader_id(), leader);
    EXPECT_GE(status.commit_index(), 4u);  // the leader's no-op + three writes
    auto it = status.metrics().find("raft_forwarded_requests");
    if (it != status.metrics().end()) forwarded += it->second;
  }
  // The two followers forwarded their client's write to the leader.
  EXPECT_GE(forwarded, 2);
}

TEST(RaftClusterTest, LeaderKillFailoverAndRestartCatchUp) {
  Cluster cluster("failover");
  cluster.StartAll();
  const int64_t leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0);
  KVClient client(cluster.ClientConfig());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client.Set(absl::StrCat("k", i), absl::StrCat("v", i)).ok());
  }
  cluster.Kill(static_cast<int>(leader));
  const int64_t next = cluster.WaitForLeader();
  ASSERT_NE(next, 0) << "no new leader after the leader was killed";
  EXPECT_NE(next, leader);
  for (int i = 0; i < 20; ++i) {
    auto value = client.Get(absl::StrCat("k", i));
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(*value, absl::StrCat("v", i));
  }
  ASSERT_TRUE(client.Set("after", "failover").ok());

  cluster.Start(static_cast<int>(leader));
  const uint64_t target = cluster.AppliedIndex(next);
  ASSERT_GT(target, 0u);
  ASSERT_TRUE(cluster.WaitForApplied(target)) << "the restarted replica did not catch up";
  KVClient old_leader(cluster.ClientConfig(static_cast<int>(leader)));
  old_leader.SetConsistency("stale");
  auto value = old_leader.Get("after");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "failover");
}

TEST(RaftClusterTest, WholeClusterRestartKeepsAcknowledgedWrites) {
  Cluster cluster("restart_all");
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(), 0);
  KVClient client(cluster.ClientConfig());
  for (int i = 0; i < 30; ++i) {
    auto version = client.SetWithVersion(absl::StrCat("d", i), "x", 0);
    ASSERT_TRUE(version.ok()) << version.status();
  }
  auto statuses = cluster.Statuses();
  uint64_t applied = 0;
  for (auto& [id, status] : statuses) applied = std::max(applied, status.applied_index());
  for (int id = 1; id <= Cluster::kReplicas; ++id) cluster.Kill(id);
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(), 0) << "no leader after restarting every replica";
  ASSERT_TRUE(cluster.WaitForApplied(applied));
  for (int i = 0; i < 30; ++i) {
    auto value = client.GetWithVersion(absl::StrCat("d", i));
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(value->version, 1u);
  }
  ASSERT_TRUE(client.Set("after_restart", "ok").ok());
}

TEST(RaftClusterTest, WritesFailWithoutAMajorityAndResumeWithIt) {
  Cluster cluster("majority");
  cluster.StartAll();
  const int64_t leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0);
  KVClient client(cluster.ClientConfig());
  ASSERT_TRUE(client.Set("before", "1").ok());
  const int survivor = leader == 1 ? 2 : 1;
  for (int id = 1; id <= Cluster::kReplicas; ++id) {
    if (id != survivor) cluster.Kill(id);
  }
  // Asked directly, the survivor answers that it has no leader; the client keeps trying
  // until its deadline and reports that.
  KVClient direct(cluster.ClientConfig(survivor));
  direct.SetTimeoutMs(3000);
  auto start = Clock::now();
  absl::Status failed = direct.Set("during", "2");
  auto took = Clock::now() - start;
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(std::string(failed.message()).find("no leader"), std::string::npos) << failed;
  EXPECT_LT(took, milliseconds(6000)) << "the failure took longer than the client deadline";
  // A client of the whole cluster fails within its deadline too, as unavailable.
  client.SetTimeoutMs(3000);
  start = Clock::now();
  failed = client.Set("during", "2");
  took = Clock::now() - start;
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_LT(took, milliseconds(6000)) << "the failure took longer than the client deadline";

  const int back = survivor == 1 ? 2 : 1;
  cluster.Start(back);
  ASSERT_NE(cluster.WaitForLeader(), 0);
  client.SetTimeoutMs(10000);
  absl::Status resumed = client.Set("during", "3");
  ASSERT_TRUE(resumed.ok()) << resumed;
  auto value = client.Get("before");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "1");
}

// What concurrent writers of fresh keys (SetWithVersion from version 0) saw while `crash` hit
// the cluster: every key they tried and every key acknowledged. Fails the test if writes did
// not resume afterwards or if a write came back as applied twice.
struct WriterRecord {
  std::vector<std::string> acknowledged;
  std::vector<std::string> attempted;
  // Writes that failed after the client's own retries, with the reason.
  std::vector<std::string> failed;
};

WriterRecord WriteThroughACrash(Cluster& cluster, const std::function<void()>& crash) {
  constexpr int kThreads = 4;
  std::atomic<bool> stop{false};
  std::mutex mu;
  WriterRecord record;
  std::vector<std::string> mismatches;
  std::atomic<int> acked_count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      KVClient client(cluster.ClientConfig());
      for (int n = 0; !stop.load(); ++n) {
        const std::string key = absl::StrCat("t", t, "-", n);
        auto version = client.SetWithVersion(key, "x", 0);
        std::lock_guard<std::mutex> lock(mu);
        record.attempted.push_back(key);
        if (version.ok()) {
          record.acknowledged.push_back(key);
          acked_count.fetch_add(1);
          if (*version != 1) mismatches.push_back(absl::StrCat(key, " got version ", *version));
        } else {
          record.failed.push_back(absl::StrCat(key, ": ", version.status().ToString()));
          if (absl::IsFailedPrecondition(version.status())) {
            mismatches.push_back(absl::StrCat(key, ": ", version.status().ToString()));
          }
        }
      }
    });
  }
  // Let some writes through, then crash while the writers keep going.
  const auto warmup = Clock::now() + seconds(20);
  while (acked_count.load() < 200 && Clock::now() < warmup) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  const int before_crash = acked_count.load();
  crash();
  const auto more = Clock::now() + seconds(30);
  while (acked_count.load() < before_crash + 200 && Clock::now() < more) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  stop.store(true);
  for (std::thread& thread : threads) thread.join();
  EXPECT_GE(before_crash, 200);
  EXPECT_GE(acked_count.load(), before_crash + 200) << "writes did not resume after the crash";
  EXPECT_TRUE(mismatches.empty()) << "a write was applied twice: " << mismatches.front();
  return record;
}

// Every acknowledged key is present once, and no attempted key was applied twice.
void ExpectExactlyOnce(const Cluster& cluster, const WriterRecord& record) {
  KVClient reader(cluster.ClientConfig());
  for (const std::string& key : record.acknowledged) {
    auto value = reader.GetWithVersion(key);
    ASSERT_TRUE(value.ok()) << "acknowledged write " << key << " is missing: " << value.status();
    EXPECT_EQ(value->version, 1u) << key;
  }
  // Writes without an answer may or may not have been applied, but never twice.
  for (const std::string& key : record.attempted) {
    auto value = reader.GetWithVersion(key);
    if (value.ok()) {
      EXPECT_EQ(value->version, 1u) << key;
    }
  }
}

// kill -9 of every replica while clients write: after the restart every acknowledged write is
// there, none twice, and the cluster elects a leader and serves again.
TEST(RaftClusterTest, ConcurrentWritersSurviveKillingEveryReplica) {
  Cluster cluster("kill_all_concurrent");
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(), 0);
  int64_t after = 0;
  const WriterRecord record = WriteThroughACrash(cluster, [&] {
    for (int id = 1; id <= Cluster::kReplicas; ++id) cluster.Kill(id);
    cluster.StartAll();
    after = cluster.WaitForLeader();
  });
  ASSERT_NE(after, 0) << "no leader after restarting every replica";
  ExpectExactlyOnce(cluster, record);
}

TEST(RaftClusterTest, ConcurrentWritersSurviveALeaderKillExactlyOnce) {
  Cluster cluster("concurrent");
  cluster.StartAll();
  const int64_t leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0);
  int64_t next = 0;
  const WriterRecord record = WriteThroughACrash(cluster, [&] {
    cluster.Kill(static_cast<int>(leader));
    next = cluster.WaitForLeader();
  });
  ASSERT_NE(next, 0);
  ExpectExactlyOnce(cluster, record);
  const std::vector<std::string>& acknowledged = record.acknowledged;

  // The crashed leader restarts mid-history, replays what it had not applied and catches up
  // to the same state.
  cluster.Start(static_cast<int>(leader));
  const uint64_t target = cluster.AppliedIndex(next);
  ASSERT_TRUE(cluster.WaitForApplied(target)) << "the old leader did not catch up";
  KVClient old_leader(cluster.ClientConfig(static_cast<int>(leader)));
  old_leader.SetConsistency("stale");
  for (const std::string& key : acknowledged) {
    auto value = old_leader.GetWithVersion(key);
    ASSERT_TRUE(value.ok()) << key << " on the restarted replica: " << value.status();
    EXPECT_EQ(value->version, 1u) << key;
  }
}

// Runs resdb_admin with `args` against the cluster's client config; expects success.
std::string Admin(const Cluster& cluster, std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", cluster.client_config_path()});
  const testing_util::RunResult result = testing_util::RunBinary(g_admin_binary, args);
  EXPECT_EQ(result.exit_code, 0) << absl::StrJoin(args, " ") << ": " << result.out << result.err;
  return result.out;
}

// The membership every running replica reports, when they all agree on `voters`.
bool AllReportVoters(const Cluster& cluster, const std::vector<int64_t>& voters) {
  auto statuses = cluster.Statuses();
  if (static_cast<int>(statuses.size()) != cluster.RunningCount()) return false;
  for (const auto& [id, status] : statuses) {
    if (std::vector<int64_t>(status.voters().begin(), status.voters().end()) != voters) {
      return false;
    }
  }
  return true;
}

// An operator replaces one replica of three while clients write: a fourth replica started with
// --join is added (as a learner that catches up through a snapshot, then a voter) and the
// leader is removed. No client write fails, every acknowledged write is on the new replica,
// and the remaining three agree on the membership.
TEST(RaftClusterTest, ReplaceOneReplicaOfThreeUnderLoad) {
  ResConfigData settings = Cluster::Settings();
  // Small snapshots, so that the new replica's first entries are compacted away by the time it
  // joins and it catches up through InstallSnapshot.
  settings.mutable_raft_config()->set_snapshot_threshold(200);
  settings.mutable_raft_config()->set_log_tail_after_snapshot(20);
  Cluster cluster("replace", settings);
  cluster.StartAll();
  const int64_t leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0);
  ASSERT_TRUE(WriteKeys(cluster, "early", 2000, 8).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto statuses = cluster.Statuses();
        return statuses.count(leader) > 0 && statuses.at(leader).first_index() > 1;
      },
      seconds(30)))
      << "the leader never compacted its log";

  int added = 0;
  std::vector<int64_t> remaining;
  std::string add_output;
  std::string remove_output;
  const WriterRecord record = WriteThroughACrash(cluster, [&] {
    added = cluster.AddReplica();
    cluster.Start(added);
    add_output = Admin(
        cluster, {"add-replica", "--id", absl::StrCat(added), "--address", cluster.Address(added)});
    remove_output = Admin(cluster, {"remove-replica", "--id", absl::StrCat(leader)});
    for (int64_t id = 1; id <= added; ++id) {
      if (id != leader) remaining.push_back(id);
    }
    // The removed replica serves no more; its operator stops it.
    EXPECT_TRUE(WaitUntil(
        [&] {
          auto statuses = cluster.Statuses();
          return statuses.count(leader) > 0 && statuses.at(leader).membership() == "removed";
        },
        seconds(10)));
    cluster.Kill(static_cast<int>(leader));
    EXPECT_NE(cluster.WaitForLeader(), 0) << "no leader after removing the old one";
  });
  std::printf(
      "replace under load: %zu writes acknowledged, %zu failed\n  add-replica: %s"
      "  remove-replica: %s",
      record.acknowledged.size(), record.failed.size(), add_output.c_str(), remove_output.c_str());
  EXPECT_NE(add_output.find("voters [1, 2, 3, 4]"), std::string::npos) << add_output;
  EXPECT_NE(remove_output.find(absl::StrCat("remove ", leader, " committed")), std::string::npos)
      << remove_output;
  EXPECT_TRUE(record.failed.empty())
      << record.failed.size() << " writes failed, first: " << record.failed.front();
  ASSERT_TRUE(WaitUntil([&] { return AllReportVoters(cluster, remaining); }, seconds(10)))
      << "the remaining replicas do not agree on voters " << absl::StrJoin(remaining, ",");
  EXPECT_TRUE(SameStateEverywhere(cluster)) << "the new replica's state digest is not the others'";
  ExpectExactlyOnce(cluster, record);

  // The new replica holds every acknowledged write; it got the old ones from a snapshot.
  const int64_t now_leader = cluster.WaitForLeader();
  ASSERT_NE(now_leader, 0);
  ASSERT_TRUE(cluster.WaitForApplied(cluster.AppliedIndex(now_leader)));
  const ReplicaStatus joined = cluster.Statuses().at(added);
  EXPECT_EQ(joined.membership(), "voter");
  EXPECT_GE(joined.metrics().at("raft_snapshots_installed"), 1);
  KVClient reader(cluster.ClientConfig(added));
  reader.SetConsistency("stale");
  for (const std::string& key : record.acknowledged) {
    auto value = reader.GetWithVersion(key);
    ASSERT_TRUE(value.ok()) << key << " on the new replica: " << value.status();
  }
  auto early = reader.Get("early1999");
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_EQ(*early, "v1999");
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  return resdb::testing_util::RunTests(
      argc, argv,
      {{"kv_service", &resdb::g_server_binary}, {"resdb_admin", &resdb::g_admin_binary}});
}
