// Runs real kv_service processes as a 4-replica signed PBFT cluster (f = 1) on 127.0.0.1 and
// injects the faults PBFT is meant to survive: the primary crashing while clients write, a
// crashed replica coming back on its old data, and one Byzantine replica (tests/
// byzantine_replica.cpp) lying to clients and sending garbage to its peers. Every process
// the test starts is killed when its cluster object goes away, also when a check fails.
//
//   pbft_fault_test <path of kv_service> <path of byzantine_replica> [gtest flags]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "service/tools/kv/kv_client.h"
#include "tests/local_cluster.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing_util::MetricValue;
using testing_util::WaitUntil;

std::string g_server_binary;
std::string g_byzantine_binary;

constexpr int kReplicas = 4;
const std::vector<int> kAll = {1, 2, 3, 4};

ResConfigData Settings() {
  ResConfigData data;
  data.set_consensus_protocol("pbft");
  data.set_require_signatures(true);
  // Short enough that a client retries a few times inside the failover deadline.
  data.set_client_timeout_ms(3000);
  data.set_heartbeat_interval_ms(50);
  data.mutable_pbft_config()->set_checkpoint_interval(4);
  data.mutable_pbft_config()->set_watermark_window(16);
  data.mutable_pbft_config()->set_view_change_timeout_ms(1000);
  return data;
}

class Cluster : public testing_util::LocalCluster {
 public:
  explicit Cluster(const std::string& name)
      : LocalCluster(g_server_binary, name, kReplicas, Settings(), /*with_keys=*/true) {}

  // The statuses of the replicas in `ids` that run and answered.
  std::map<int64_t, ReplicaStatus> StatusesOf(const std::vector<int>& ids) const {
    std::map<int64_t, ReplicaStatus> out;
    for (auto& [id, status] : Statuses()) {
      if (std::find(ids.begin(), ids.end(), static_cast<int>(id)) != ids.end()) out[id] = status;
    }
    return out;
  }
};

std::string Describe(const std::map<int64_t, ReplicaStatus>& statuses) {
  std::string out;
  for (auto& [id, status] : statuses) {
    absl::StrAppend(&out, "\n  replica ", id, ": role ", status.role(), " view ", status.view(),
                    " primary ", status.primary_id(), " executed_seq ", status.executed_seq(),
                    " stable_checkpoint ", status.stable_checkpoint(), " state_digest ",
                    status.state_digest().empty() ? "(none)" : ToHex(status.state_digest()));
    auto fetched = status.metrics().find("pbft_fetched_batches");
    if (fetched != status.metrics().end()) {
      absl::StrAppend(&out, " fetched_batches ", fetched->second);
    }
  }
  return out.empty() ? "\n  (no replica answered)" : out;
}

// The primary every replica of `ids` reports, with all of them in the same view; 0 unless
// all of them answered and agree.
int64_t AgreedPrimary(const std::map<int64_t, ReplicaStatus>& statuses,
                      const std::vector<int>& ids) {
  if (statuses.size() != ids.size()) return 0;
  const ReplicaStatus& first = statuses.begin()->second;
  for (auto& [id, status] : statuses) {
    if (status.primary_id() != first.primary_id() || status.view() != first.view()) return 0;
  }
  return first.primary_id();
}

// Every replica of `ids` answered and reports the same view, executed_seq and a non-empty
// state_digest.
bool Converged(const std::map<int64_t, ReplicaStatus>& statuses, const std::vector<int>& ids) {
  if (statuses.size() != ids.size()) return false;
  const ReplicaStatus& first = statuses.begin()->second;
  if (first.state_digest().empty() || first.executed_seq() == 0) return false;
  for (auto& [id, status] : statuses) {
    if (status.view() != first.view() || status.executed_seq() != first.executed_seq() ||
        status.state_digest() != first.state_digest()) {
      return false;
    }
  }
  return true;
}

// Waits until every replica is up and agrees on a primary; returns it, 0 on timeout.
int64_t WaitForPrimary(const Cluster& cluster, const std::vector<int>& ids) {
  int64_t primary = 0;
  WaitUntil(
      [&] {
        primary = AgreedPrimary(cluster.StatusesOf(ids), ids);
        return primary != 0;
      },
      seconds(20));
  return primary;
}

// Starts every replica and waits until they agree on a primary; returns it, or 0 with a
// failure naming what each replica reports.
int64_t StartAndWaitForPrimary(Cluster& cluster) {
  cluster.StartAll();
  const int64_t primary = WaitForPrimary(cluster, kAll);
  EXPECT_NE(primary, 0) << "the replicas do not agree on a primary:"
                        << Describe(cluster.StatusesOf(kAll));
  return primary;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Writes that a client acknowledged, by key.
using Acked = std::map<std::string, std::string>;

void WriteOrDie(KVClient& client, const std::string& key, const std::string& value, Acked* acked) {
  absl::Status set = client.Set(key, value);
  ASSERT_TRUE(set.ok()) << "set " << key << ": " << set;
  (*acked)[key] = value;
}

// Writes "<key_prefix>i" = "<value_prefix>i" for i in [0, count), each acknowledged.
void WriteMany(KVClient& client, const std::string& key_prefix, const std::string& value_prefix,
               int count, Acked* acked) {
  for (int i = 0; i < count; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        WriteOrDie(client, absl::StrCat(key_prefix, i), absl::StrCat(value_prefix, i), acked));
  }
}

void ExpectAllReadBack(KVClient& client, const Acked& acked) {
  for (auto& [key, value] : acked) {
    auto read = client.Get(key);
    ASSERT_TRUE(read.ok()) << "acknowledged write " << key
                           << " does not read back: " << read.status();
    EXPECT_EQ(*read, value) << key;
  }
}

// Kills `primary` and keeps writing through `client` until the survivors agree on another
// primary in a view above 0 and a write started after that was acknowledged. Returns the new
// primary, or 0 with a failure after 20 s (the view change timeout is 1 s).
int64_t KillPrimaryAndKeepWriting(Cluster& cluster, int64_t primary, KVClient& client,
                                  Acked* acked) {
  std::vector<int> survivors;
  for (int id : kAll) {
    if (id != primary) survivors.push_back(id);
  }
  cluster.Kill(static_cast<int>(primary));
  const auto killed_at = Clock::now();
  const auto deadline = killed_at + seconds(20);
  int64_t next = 0;
  bool acked_in_new_view = false;
  int attempts = 0;
  int failures = 0;
  std::string last_error;
  std::map<int64_t, ReplicaStatus> statuses;
  for (int n = 0; Clock::now() < deadline; ++n) {
    const bool in_new_view = next != 0;
    const std::string key = absl::StrCat("during-", n);
    const std::string value = absl::StrCat("value-", n);
    ++attempts;
    absl::Status set = client.Set(key, value);
    if (set.ok()) {
      (*acked)[key] = value;
      if (in_new_view) {
        acked_in_new_view = true;
        break;
      }
    } else {
      ++failures;
      last_error = set.ToString();
    }
    if (next == 0) {
      statuses = cluster.StatusesOf(survivors);
      const int64_t agreed = AgreedPrimary(statuses, survivors);
      if (agreed != 0 && agreed != primary && statuses.begin()->second.view() > 0) next = agreed;
    }
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at);
  if (!acked_in_new_view) {
    statuses = cluster.StatusesOf(survivors);
    ADD_FAILURE() << "no write acknowledged in a new view within 20 s of killing primary "
                  << primary << " (" << attempts << " writes tried, " << failures
                  << " failed; last error: " << last_error << "); survivors:" << Describe(statuses);
    return 0;
  }
  std::printf(
      "primary %ld killed: primary %ld took over and acknowledged a write after %ld ms "
      "(%d writes tried, %d failed)\n",
      static_cast<long>(primary), static_cast<long>(next), static_cast<long>(took.count()),
      attempts, failures);
  return next;
}

TEST(PbftFaultTest, KillPrimaryAndKeepWriting) {
  Cluster cluster("pbft_kill_primary");
  const int64_t primary = StartAndWaitForPrimary(cluster);
  ASSERT_NE(primary, 0);
  KVClient client(cluster.ClientConfig());
  Acked acked;
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "before-", "v", 10, &acked));

  const int64_t next = KillPrimaryAndKeepWriting(cluster, primary, client, &acked);
  ASSERT_NE(next, 0);
  EXPECT_NE(next, primary);
  // The new view keeps serving: these must not need the failover's retries.
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "after-", "w", 10, &acked));
  ExpectAllReadBack(client, acked);

  std::vector<int> survivors;
  for (int id : kAll) {
    if (id != primary) survivors.push_back(id);
  }
  auto statuses = cluster.StatusesOf(survivors);
  EXPECT_EQ(AgreedPrimary(statuses, survivors), next) << Describe(statuses);
  for (auto& [id, status] : statuses) {
    EXPECT_GT(status.view(), 0u) << "replica " << id;
    EXPECT_EQ(status.role(), id == next ? "primary" : "backup") << "replica " << id;
  }
}

// Restarts the killed replica `id` on its data dir, writes on, then stops writing and
// expects every replica to settle at the same view, executed_seq and state_digest, with every
// acknowledged write readable. Returns the restarted replica's last status.
ReplicaStatus RestartAndExpectCatchUp(Cluster& cluster, int id, KVClient& client, Acked* acked) {
  cluster.Start(id);
  for (int i = 0; i < 12; ++i) {
    WriteOrDie(client, absl::StrCat("back-", i), absl::StrCat("b", i), acked);
    if (::testing::Test::HasFatalFailure()) return ReplicaStatus();
  }
  std::map<int64_t, ReplicaStatus> statuses;
  const bool converged = WaitUntil(
      [&] {
        statuses = cluster.StatusesOf(kAll);
        return Converged(statuses, kAll);
      },
      seconds(20));
  std::printf("after restarting replica %d:%s\n", id, Describe(statuses).c_str());
  EXPECT_TRUE(converged) << "restarted replica " << id
                         << " did not reach the others' view, executed_seq and state_digest "
                            "within 20 s:"
                         << Describe(statuses);
  ExpectAllReadBack(client, *acked);
  auto restarted = statuses.find(id);
  EXPECT_NE(restarted, statuses.end()) << "restarted replica " << id << " does not answer";
  return restarted == statuses.end() ? ReplicaStatus() : restarted->second;
}

// A backup misses more than a watermark window of batches, so the live seqs' votes alone
// cannot bring it back: it has to fetch what it missed.
TEST(PbftFaultTest, RestartedReplicaCatchesUp) {
  Cluster cluster("pbft_restart_backup");
  const int64_t primary = StartAndWaitForPrimary(cluster);
  ASSERT_NE(primary, 0);
  const int backup = primary == kReplicas ? 1 : kReplicas;
  KVClient client(cluster.ClientConfig());
  Acked acked;
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "before-", "v", 10, &acked));
  cluster.Kill(backup);
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "down-", "d", 24, &acked));
  const ReplicaStatus restarted = RestartAndExpectCatchUp(cluster, backup, client, &acked);
  EXPECT_EQ(restarted.view(), 0u);
  EXPECT_EQ(restarted.primary_id(), primary);
}

// The old primary comes back after a view change: it must learn the new view, not act as
// primary of its old one, and fetch what was ordered without it.
TEST(PbftFaultTest, RestartedPrimaryCatchesUpInTheNewView) {
  Cluster cluster("pbft_restart_primary");
  const int64_t primary = StartAndWaitForPrimary(cluster);
  ASSERT_NE(primary, 0);
  KVClient client(cluster.ClientConfig());
  Acked acked;
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "before-", "v", 10, &acked));
  const int64_t next = KillPrimaryAndKeepWriting(cluster, primary, client, &acked);
  ASSERT_NE(next, 0);
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "down-", "d", 24, &acked));
  const ReplicaStatus restarted =
      RestartAndExpectCatchUp(cluster, static_cast<int>(primary), client, &acked);
  EXPECT_GT(restarted.view(), 0u);
  EXPECT_EQ(restarted.primary_id(), next);
  EXPECT_EQ(restarted.role(), "backup");
}

// Every replica dies at once (kill -9) and comes back on its data: each acknowledged write
// was on disk on 2f+1 replicas (synced write-ahead log), so none is lost, and the cluster
// serves again with every replica on the same state.
TEST(PbftFaultTest, KillEveryReplicaAndRestart) {
  Cluster cluster("pbft_kill_all");
  ASSERT_NE(StartAndWaitForPrimary(cluster), 0);
  KVClient client(cluster.ClientConfig());
  Acked acked;
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "before-", "v", 20, &acked));
  const std::map<int64_t, ReplicaStatus> before = cluster.StatusesOf(kAll);
  for (int id : kAll) cluster.Kill(id);
  cluster.StartAll();
  ASSERT_NE(WaitForPrimary(cluster, kAll), 0)
      << "no primary after the restart:" << Describe(cluster.StatusesOf(kAll));
  ExpectAllReadBack(client, acked);
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "after-", "w", 10, &acked));
  ExpectAllReadBack(client, acked);
  std::map<int64_t, ReplicaStatus> statuses;
  const bool converged = WaitUntil(
      [&] {
        statuses = cluster.StatusesOf(kAll);
        return Converged(statuses, kAll);
      },
      seconds(20));
  ASSERT_TRUE(converged) << Describe(statuses);
  for (auto& [id, status] : statuses) {
    auto previous = before.find(id);
    ASSERT_NE(previous, before.end()) << "replica " << id;
    EXPECT_GT(status.executed_seq(), previous->second.executed_seq()) << "replica " << id;
  }
}

// What a client saw: its acknowledged writes and the answers that contradict them.
struct ClientRecord {
  std::mutex mu;
  Acked acked;
  std::vector<std::string> wrong;
  int operations = 0;
  int failures = 0;
  std::string last_error;
};

// Writes a fresh key and reads it back, again and again until `stop` (or enough for the
// checks: a lying replica answers much faster than the cluster).
void WriteAndReadBack(const ResDBConfig& config, const std::string& prefix,
                      const std::atomic<bool>& stop, ClientRecord* record) {
  constexpr int kMaxOperations = 300;
  KVClient client(config);
  for (int n = 0; !stop.load() && n < kMaxOperations; ++n) {
    const std::string key = absl::StrCat(prefix, n);
    const std::string value = absl::StrCat("value of ", key);
    absl::Status set = client.Set(key, value);
    absl::StatusOr<std::string> read = absl::UnavailableError("not read");
    if (set.ok()) read = client.Get(key);
    std::lock_guard<std::mutex> lock(record->mu);
    ++record->operations;
    if (!set.ok() || !read.ok()) {
      ++record->failures;
      record->last_error = (!set.ok() ? set : read.status()).ToString();
    }
    if (set.ok()) record->acked[key] = value;
    if (read.ok() && *read != value) {
      record->wrong.push_back(absl::StrCat(key, " read back as \"", *read, "\""));
    }
  }
}

TEST(PbftFaultTest, ByzantineReplicaChangesNothing) {
  constexpr int kRounds = 50;
  const std::vector<int> correct = {1, 2, 3};
  Cluster cluster("pbft_byzantine");
  cluster.EnableMetrics();
  for (int id : correct) cluster.Start(id);
  // The three correct replicas are exactly a quorum: they make progress without replica 4.
  const int64_t primary = WaitForPrimary(cluster, correct);
  ASSERT_NE(primary, 0) << "replicas 1..3 do not agree on a primary:"
                        << Describe(cluster.StatusesOf(correct));
  cluster.StartBinary(4, g_byzantine_binary,
                      {absl::StrCat("--rounds=", kRounds), "--round_interval_ms=20"});
  // The clients must meet the lying replica, so it has to serve before they start.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return ReadFile(cluster.LogPath(4)).find("byzantine: replica 4 serving") !=
               std::string::npos;
      },
      seconds(10)))
      << "the Byzantine replica did not start:\n"
      << ReadFile(cluster.LogPath(4));

  // One client finds the correct replicas first, the other asks the Byzantine one first.
  std::atomic<bool> stop{false};
  ClientRecord honest_first;
  ClientRecord byzantine_first;
  std::thread honest_writer(WriteAndReadBack, cluster.ClientConfigOf({1, 2, 3, 4}), "h-",
                            std::cref(stop), &honest_first);
  std::thread byzantine_writer(WriteAndReadBack, cluster.ClientConfigOf({4, 1, 2, 3}), "b-",
                               std::cref(stop), &byzantine_first);
  const bool attack_finished = WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock_honest(honest_first.mu);
        std::lock_guard<std::mutex> lock_byzantine(byzantine_first.mu);
        return ReadFile(cluster.LogPath(4)).find("byzantine: attack finished") !=
                   std::string::npos &&
               honest_first.operations >= 20 && byzantine_first.operations >= 20;
      },
      seconds(40));
  stop.store(true);
  honest_writer.join();
  byzantine_writer.join();
  // The targets' own count of what the Byzantine replica's streams carried.
  std::istringstream byzantine_log(ReadFile(cluster.LogPath(4)));
  for (std::string line; std::getline(byzantine_log, line);) {
    if (line.rfind("byzantine: stream", 0) == 0) std::printf("%s\n", line.c_str());
  }
  EXPECT_TRUE(attack_finished) << "the attack or the clients did not finish within 40 s";
  EXPECT_NE(ReadFile(cluster.LogPath(4)).find("byzantine: answered a client call with a lie"),
            std::string::npos)
      << "no client ever asked the Byzantine replica, so its lies were not tested";

  for (ClientRecord* record : {&honest_first, &byzantine_first}) {
    const char* name = record == &honest_first ? "client asking replica 1 first"
                                               : "client asking the Byzantine replica first";
    std::printf("%s: %d set+get, %d failed (last error: %s), %zu wrong answers\n", name,
                record->operations, record->failures, record->last_error.c_str(),
                record->wrong.size());
    EXPECT_TRUE(record->wrong.empty())
        << name << " returned " << record->wrong.size() << " wrong values, e.g. "
        << absl::StrJoin(record->wrong.begin(),
                         record->wrong.begin() + std::min<size_t>(3, record->wrong.size()), "; ");
  }
  EXPECT_GE(honest_first.acked.size(), 20u) << "the correct replicas stopped making progress";

  // The acknowledged writes of both clients are what the correct replicas hold, and nothing
  // the Byzantine replica proposed was executed.
  KVClient reader(cluster.ClientConfigOf(correct));
  int missing = 0;
  for (ClientRecord* record : {&honest_first, &byzantine_first}) {
    for (auto& [key, value] : record->acked) {
      auto read = reader.Get(key);
      if (!read.ok() || *read != value) {
        if (++missing <= 3) {
          ADD_FAILURE() << "acknowledged write " << key << " reads back as "
                        << (read.ok() ? absl::StrCat("\"", *read, "\"") : read.status().ToString());
        }
      }
    }
  }
  EXPECT_EQ(missing, 0) << "acknowledged writes that the correct replicas do not hold";
  auto evil = reader.Get("byzantine-evil");
  EXPECT_TRUE(absl::IsNotFound(evil.status()))
      << "a batch forged by the Byzantine replica was executed: "
      << (evil.ok() ? *evil : evil.status().ToString());

  std::map<int64_t, ReplicaStatus> statuses;
  const bool converged = WaitUntil(
      [&] {
        statuses = cluster.StatusesOf(correct);
        return Converged(statuses, correct);
      },
      seconds(15));
  std::printf("replicas 1..3 after the attack:%s\n", Describe(statuses).c_str());
  EXPECT_TRUE(converged) << "replicas 1..3 did not reach the same view, executed_seq and "
                            "state_digest:"
                         << Describe(statuses);
  // Nothing a single replica sends may depose a correct primary.
  EXPECT_EQ(AgreedPrimary(statuses, correct), primary) << Describe(statuses);
  for (auto& [id, status] : statuses) EXPECT_EQ(status.view(), 0u) << "replica " << id;

  // Every kind of garbage was counted and dropped by every correct replica. Each round sent
  // each of them one undecodable envelope, one of an unknown type, four with a bad signature
  // and three that PBFT must refuse (a backup's PRE_PREPARE, two votes outside the
  // watermarks). Those of the four that claim another replica as sender never reach the
  // signature check: the TLS channel names the Byzantine replica, so they are counted as
  // sender mismatches.
  std::map<int, std::map<std::string, int64_t>> metrics;
  auto counted = [&] {
    bool all = true;
    for (int id : correct) {
      std::map<std::string, int64_t>& m = metrics[id];
      m = cluster.Metrics(id);
      auto status = cluster.StatusesOf({id});
      if (status.count(id) != 0) {
        for (auto& [name, value] : status[id].metrics()) m["status." + name] = value;
      }
      all = all && MetricValue(m, "network_malformed") >= kRounds &&
            MetricValue(m, "network_unknown_type") >= kRounds &&
            MetricValue(m, "network_bad_signature") + MetricValue(m, "network_sender_mismatch") >=
                4 * kRounds &&
            MetricValue(m, "status.pbft_rejected_messages") >= 3 * kRounds;
    }
    return all;
  };
  const bool all_counted = WaitUntil(counted, seconds(10), milliseconds(200));
  std::string counts;
  for (int id : correct) {
    const auto& m = metrics[id];
    absl::StrAppend(
        &counts, "\n  replica ", id, ": network_malformed=", MetricValue(m, "network_malformed"),
        " network_unknown_type=", MetricValue(m, "network_unknown_type"),
        " network_bad_signature=", MetricValue(m, "network_bad_signature"),
        " network_sender_mismatch=", MetricValue(m, "network_sender_mismatch"),
        " network_consensus_rejected=", MetricValue(m, "network_consensus_rejected"),
        " pbft_rejected_messages=", MetricValue(m, "status.pbft_rejected_messages"),
        " pbft_unsigned_client_requests=", MetricValue(m, "status.pbft_unsigned_client_requests"));
  }
  std::printf("garbage counted by the correct replicas:%s\n", counts.c_str());
  // Client requests forwarded in their clients' names with another payload were refused.
  int64_t forgeries = 0;
  for (int id : correct)
    forgeries += MetricValue(metrics[id], "status.pbft_unsigned_client_requests");
  EXPECT_GE(forgeries, 1) << "the forged forwards never reached a correct replica:" << counts;
  EXPECT_TRUE(all_counted) << "expected at least " << kRounds << " malformed, " << kRounds
                           << " unknown-type, " << 4 * kRounds
                           << " bad-signature or sender-mismatch and " << 3 * kRounds
                           << " PBFT-rejected messages per replica:" << counts;
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  return resdb::testing_util::RunTests(
      argc, argv,
      {{"kv_service", &resdb::g_server_binary}, {"byzantine_replica", &resdb::g_byzantine_binary}});
}
