// Runs real kv_service processes as a 4-replica signed PBFT cluster (f = 1) on 127.0.0.1 and
// injects the faults PBFT is meant to survive: the primary crashing while clients write, a
// crashed replica coming back on its old data, and one Byzantine replica (tests/
// byzantine_replica.cpp) lying to clients and, in turn, sending garbage to its peers, joining
// a view change (brought about by pausing the primary) with forged prepared certificates, and,
// as the primary, sending different batches for one seq to different backups before the
// others change view without it. Every process the test starts is killed when its cluster
// object goes away, also when a check fails.
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
#include "interface/kv/kv_client.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
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

// Waits up to `timeout` for the replicas of `ids` to converge and prints their statuses after
// `what`; a failure names them. Returns the statuses last read.
std::map<int64_t, ReplicaStatus> ExpectConverged(const Cluster& cluster,
                                                 const std::vector<int>& ids,
                                                 const std::string& what,
                                                 seconds timeout = seconds(15)) {
  std::map<int64_t, ReplicaStatus> statuses;
  const bool converged = WaitUntil(
      [&] {
        statuses = cluster.StatusesOf(ids);
        return Converged(statuses, ids);
      },
      timeout);
  std::printf("%s:%s\n", what.c_str(), Describe(statuses).c_str());
  EXPECT_TRUE(converged) << what << ": the replicas did not reach the same view, executed_seq "
                         << "and state_digest within " << timeout.count()
                         << " s:" << Describe(statuses);
  return statuses;
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
  std::map<int64_t, ReplicaStatus> statuses =
      ExpectConverged(cluster, kAll, absl::StrCat("after restarting replica ", id), seconds(20));
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

// Writes a fresh key and reads it back, again and again until `stop` or `max_operations`
// (enough for the checks: a lying replica answers much faster than the cluster).
void WriteAndReadBack(const ResDBConfig& config, const std::string& prefix,
                      const std::atomic<bool>& stop, ClientRecord* record, int max_operations) {
  KVClient client(config);
  for (int n = 0; !stop.load() && n < max_operations; ++n) {
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
                            std::cref(stop), &honest_first, 300);
  std::thread byzantine_writer(WriteAndReadBack, cluster.ClientConfigOf({4, 1, 2, 3}), "b-",
                               std::cref(stop), &byzantine_first, 300);
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

  std::map<int64_t, ReplicaStatus> statuses =
      ExpectConverged(cluster, correct, "replicas 1..3 after the attack");
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

// WriteAndReadBack on a thread of its own, stopped at the latest when it goes out of scope,
// so that a failed assertion does not leave it running.
class BackgroundWriter {
 public:
  BackgroundWriter(const ResDBConfig& config, const std::string& prefix, int max_operations)
      : thread_(WriteAndReadBack, config, prefix, std::cref(stop_), &record_, max_operations) {}
  ~BackgroundWriter() { Stop(); }

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() {
    std::lock_guard<std::mutex> lock(record_.mu);
    return record_.acked.size();
  }
  // Only after Stop().
  const ClientRecord& record() const { return record_; }
  std::string Summary() {
    std::lock_guard<std::mutex> lock(record_.mu);
    return absl::StrCat(record_.operations, " set+get, ", record_.acked.size(), " acknowledged, ",
                        record_.failures, " failed (last error: ", record_.last_error, "), ",
                        record_.wrong.size(), " wrong answers");
  }

 private:
  std::atomic<bool> stop_{false};
  ClientRecord record_;
  std::thread thread_;  // last: it uses the members above
};

// Each replica of `ids` that answers: its pbft_rejected_messages.
std::map<int64_t, int64_t> RejectedMessages(const Cluster& cluster, const std::vector<int>& ids) {
  std::map<int64_t, int64_t> out;
  for (auto& [id, status] : cluster.StatusesOf(ids)) {
    auto found = status.metrics().find("pbft_rejected_messages");
    out[id] = found == status.metrics().end() ? 0 : found->second;
  }
  return out;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// From the Byzantine replica's log: how many envelopes replica `id` took from its stream (the
// "received" of the target's StreamSummary), or -1 before that stream ended.
int64_t StreamReceived(const std::string& log, int id) {
  const std::string line_start = absl::StrCat("byzantine: stream to replica ", id, ": ");
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(line_start, 0) != 0) continue;
    const size_t at = line.find(" received=");
    if (at == std::string::npos) return -1;
    return std::strtoll(line.c_str() + at + 10, nullptr, 10);
  }
  return -1;
}

// Each replica of `ids` refused at least as many messages since `rejected_before` as it took
// forged `kind` (VIEWCHANGEs, NEWVIEWs) from the Byzantine replica's stream: the lesser of
// what the stream delivered and what the Byzantine replica says it wrote. Other refusals
// count there too.
void ExpectForgeriesRefused(const Cluster& cluster, const std::vector<int>& ids,
                            const std::map<int64_t, int64_t>& rejected_before,
                            const std::string& log, const std::string& kind) {
  const std::map<int64_t, int64_t> rejected_after = RejectedMessages(cluster, ids);
  for (int id : ids) {
    const std::string written_line =
        absl::StrCat("byzantine: forged ", kind, " written to replica ", id, ": ");
    int64_t written = -1;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(written_line, 0) == 0) {
        written = std::strtoll(line.c_str() + written_line.size(), nullptr, 10);
      }
    }
    const int64_t forged = std::min(StreamReceived(log, id), written);
    const int64_t rejected = rejected_after.count(id) == 0 || rejected_before.count(id) == 0
                                 ? -1
                                 : rejected_after.at(id) - rejected_before.at(id);
    std::printf("replica %d took %ld forged %s and refused %ld messages\n", id,
                static_cast<long>(forged), kind.c_str(), static_cast<long>(rejected));
    EXPECT_GE(forged, 1) << "replica " << id << " took no forged " << kind << ":\n" << log;
    EXPECT_GE(rejected, forged) << "replica " << id << " refused fewer messages than the forged "
                                << kind << " it took";
  }
}

// Reads `key` from replica `id` alone, which answers from its own state.
absl::StatusOr<std::string> ReadFrom(const Cluster& cluster, int id, const std::string& key) {
  KVClient client(cluster.ClientConfig(id));
  return client.Get(key);
}

void ExpectAckedOn(const Cluster& cluster, const std::vector<int>& ids, const Acked& acked) {
  KVClient reader(cluster.ClientConfigOf(ids));
  int missing = 0;
  for (auto& [key, value] : acked) {
    auto read = reader.Get(key);
    if (read.ok() && *read == value) continue;
    if (++missing <= 3) {
      ADD_FAILURE() << "acknowledged write " << key << " reads back as "
                    << (read.ok() ? absl::StrCat("\"", *read, "\"") : read.status().ToString());
    }
  }
  EXPECT_EQ(missing, 0) << "of " << acked.size()
                        << " acknowledged writes, the correct replicas do not hold these";
}

// Replica 3 forges the evidence of its VIEWCHANGEs: a prepared certificate whose PRE_PREPARE
// and PREPAREs claim replicas 1, 2 and 4 but carry its own signatures, for a batch (signed by
// a client it made up) that would set "byzantine-evil" at a seq nobody prepared. The primary
// is paused, so the backups change view while it attacks; replica 2, primary of view 1,
// builds its NEWVIEW from its own VIEWCHANGE and the first 2f others by id, so that replica
// 3's would be in it if it were admitted, and its certificate would decide that seq. Only the
// signature check of the evidence refuses it; resuming the primary lets the three correct
// replicas complete the view change.
TEST(PbftFaultTest, ForgedViewChangeEvidenceChangesNothing) {
  const std::vector<int> correct = {1, 2, 4};
  const std::vector<int> backups = {2, 4};
  constexpr int kByzantine = 3;
  Cluster cluster("pbft_forged_view_change");
  for (int id : correct) cluster.Start(id);
  ASSERT_EQ(WaitForPrimary(cluster, correct), 1)
      << "replicas 1, 2 and 4 do not agree on primary 1:" << Describe(cluster.StatusesOf(correct));
  cluster.StartBinary(kByzantine, g_byzantine_binary,
                      {"--mode=forged_view_change", "--rounds=2000", "--round_interval_ms=20"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Contains(ReadFile(cluster.LogPath(kByzantine)), "byzantine: replica 3 serving");
      },
      seconds(10)))
      << "the Byzantine replica did not start:\n"
      << ReadFile(cluster.LogPath(kByzantine));

  BackgroundWriter writer(cluster.ClientConfigOf({1, 2, 4, 3}), "w-", 2000);
  ASSERT_TRUE(WaitUntil([&] { return writer.acked() >= 5; }, seconds(15)))
      << "no writes before the attack: " << writer.Summary();
  const std::map<int64_t, int64_t> rejected_before = RejectedMessages(cluster, backups);

  cluster.Pause(1);
  const auto paused_at = Clock::now();
  // The backups hold client requests the primary does not order: they change view.
  std::map<int64_t, ReplicaStatus> statuses;
  ASSERT_TRUE(WaitUntil(
      [&] {
        statuses = cluster.StatusesOf(backups);
        if (statuses.size() != backups.size()) return false;
        for (auto& [id, status] : statuses) {
          if (status.view() == 0) return false;
        }
        return true;
      },
      seconds(15)))
      << "the backups did not change view with the primary paused:" << Describe(statuses);
  // The Byzantine replica joins both view changes with its forgery.
  auto forged_to = [&](int id) {
    std::istringstream lines(ReadFile(cluster.LogPath(kByzantine)));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("byzantine: forged VIEWCHANGE for view ", 0) == 0 &&
          Contains(line, absl::StrCat(" sent to replica ", id))) {
        return true;
      }
    }
    return false;
  };
  // A backup that left that view change already (only possible if it took a forged
  // VIEWCHANGE, the primary being paused) may have been sent none.
  std::map<int64_t, uint64_t> changing_to;
  for (auto& [id, status] : statuses) changing_to[id] = status.view();
  auto attacked = [&] {
    statuses = cluster.StatusesOf(backups);
    for (int id : backups) {
      auto status = statuses.find(id);
      const bool still_changing =
          status == statuses.end() ||
          (status->second.view() == changing_to[id] && status->second.primary_id() == 0);
      if (still_changing && !forged_to(id)) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitUntil(attacked, seconds(10)))
      << "the Byzantine replica sent no forged VIEWCHANGE to the backups:\n"
      << ReadFile(cluster.LogPath(kByzantine)) << Describe(statuses);
  const size_t acked_at_resume = writer.acked();
  cluster.Resume(1);
  const auto resumed_at = Clock::now();

  // The three correct replicas complete the view change and order writes again.
  const bool new_view = WaitUntil(
      [&] {
        statuses = cluster.StatusesOf(correct);
        return AgreedPrimary(statuses, correct) != 0 && statuses.begin()->second.view() > 0 &&
               writer.acked() >= acked_at_resume + 3;
      },
      seconds(30));
  writer.Stop();
  std::printf(
      "paused primary 1 for %ld ms; view change completed %ld ms after resuming it: %s\n",
      static_cast<long>(std::chrono::duration_cast<milliseconds>(resumed_at - paused_at).count()),
      static_cast<long>(
          std::chrono::duration_cast<milliseconds>(Clock::now() - resumed_at).count()),
      writer.Summary().c_str());
  ASSERT_TRUE(new_view) << "replicas 1, 2 and 4 did not agree on a view above 0 and order "
                           "writes within 30 s of resuming the primary:"
                        << Describe(statuses) << "\nclient: " << writer.Summary();
  EXPECT_TRUE(writer.record().wrong.empty())
      << "the client read back wrong values, e.g. " << writer.record().wrong.front();

  KVClient client(cluster.ClientConfigOf({1, 2, 4, 3}));
  Acked acked = writer.record().acked;
  ASSERT_NO_FATAL_FAILURE(WriteMany(client, "after-", "a", 5, &acked));
  statuses = ExpectConverged(cluster, correct, "replicas 1, 2 and 4 after the attack");
  for (auto& [id, status] : statuses) EXPECT_GT(status.view(), 0u) << "replica " << id;
  ExpectAckedOn(cluster, correct, acked);
  for (int id : correct) {
    auto evil = ReadFrom(cluster, id, "byzantine-evil");
    EXPECT_TRUE(absl::IsNotFound(evil.status()))
        << "replica " << id << " executed the batch of the forged prepared certificate: "
        << (evil.ok() ? absl::StrCat("\"", *evil, "\"") : evil.status().ToString());
  }

  // The backups refused at least as many messages as the forged VIEWCHANGEs they took from
  // the stream (other refusals count there too; the stream also carried FETCH answers offering
  // the forged batch, which are not refusals): the attacker of a backup reports what the
  // stream delivered and how many of its writes were VIEWCHANGEs.
  ASSERT_TRUE(WaitUntil(
      [&] { return Contains(ReadFile(cluster.LogPath(kByzantine)), "byzantine: attack finished"); },
      seconds(15)))
      << "the Byzantine replica did not finish:\n"
      << ReadFile(cluster.LogPath(kByzantine));
  const std::string log = ReadFile(cluster.LogPath(kByzantine));
  ExpectForgeriesRefused(cluster, backups, rejected_before, log, "VIEWCHANGEs");
}

// Replica 2, primary of view 1, keeps sending the others a NEWVIEW for view 1 built from its
// own VIEWCHANGE and two it made up in other replicas' names (signed with its own key, well
// formed otherwise), while the correct primary 1 orders writes. Only the check of the
// signatures on the VIEWCHANGEs inside a NEWVIEW refuses it; taken, it would move the correct
// replicas to view 1 and depose their primary.
TEST(PbftFaultTest, ForgedNewViewDeposesNobody) {
  const std::vector<int> correct = {1, 3, 4};
  constexpr int kByzantine = 2;
  constexpr int kRounds = 150;
  Cluster cluster("pbft_forged_new_view");
  for (int id : correct) cluster.Start(id);
  ASSERT_EQ(WaitForPrimary(cluster, correct), 1)
      << "replicas 1, 3 and 4 do not agree on primary 1:" << Describe(cluster.StatusesOf(correct));
  BackgroundWriter writer(cluster.ClientConfigOf({1, 3, 4, 2}), "w-", 2000);
  // Stable checkpoints to prove in the forged VIEWCHANGEs.
  ASSERT_TRUE(WaitUntil([&] { return writer.acked() >= 10; }, seconds(15)))
      << "no writes before the attack: " << writer.Summary();
  const std::map<int64_t, int64_t> rejected_before = RejectedMessages(cluster, correct);
  cluster.StartBinary(
      kByzantine, g_byzantine_binary,
      {"--mode=forged_new_view", absl::StrCat("--rounds=", kRounds), "--round_interval_ms=20"});
  const bool finished = WaitUntil(
      [&] { return Contains(ReadFile(cluster.LogPath(kByzantine)), "byzantine: attack finished"); },
      seconds(30));
  const size_t acked_after_attack = writer.acked();
  const bool still_writing =
      WaitUntil([&] { return writer.acked() >= acked_after_attack + 3; }, seconds(15));
  writer.Stop();
  const std::string log = ReadFile(cluster.LogPath(kByzantine));
  ASSERT_TRUE(finished) << "the Byzantine replica did not finish:\n" << log;
  EXPECT_TRUE(still_writing) << "writes stopped after the attack: " << writer.Summary();
  EXPECT_TRUE(writer.record().wrong.empty())
      << "the client read back wrong values, e.g. " << writer.record().wrong.front();

  std::printf("client: %s\n", writer.Summary().c_str());
  std::map<int64_t, ReplicaStatus> statuses =
      ExpectConverged(cluster, correct, "replicas 1, 3 and 4 after the attack");
  EXPECT_EQ(AgreedPrimary(statuses, correct), 1) << Describe(statuses);
  for (auto& [id, status] : statuses) EXPECT_EQ(status.view(), 0u) << "replica " << id;
  ExpectAckedOn(cluster, correct, writer.record().acked);

  ExpectForgeriesRefused(cluster, correct, rejected_before, log, "NEWVIEWs");
}

// Replica 1, primary of view 0, equivocates. It holds seq 1 back; for seqs 2..4 it sends
// batch A to replica 2 (the primary of view 1) and batch B to replicas 3 and 4, with COMMITs
// for both digests ordered so that replica 3 alone commits B. Once 3 and 4 have prepared B it
// sends PRE_PREPARE(A) to replica 3 too, then releases seq 1 and stops ordering: replica 3
// executes B, replicas 2 and 4 cannot fetch it (one replica is not f+1) and change view
// without the primary. Replica 3 must refuse the second digest at one (view, seq), or it
// executes A where the others get B; and the NEWVIEW must re-propose B from the prepared
// certificates of 3 and 4, or 2 and 4 execute something else where 3 executed B.
TEST(PbftFaultTest, EquivocatingPrimaryAcrossViewChange) {
  const std::vector<int> correct = {2, 3, 4};
  constexpr int kByzantine = 1;
  Cluster cluster("pbft_equivocate");
  for (int id : correct) cluster.Start(id);
  ASSERT_EQ(WaitForPrimary(cluster, correct), kByzantine)
      << "replicas 2, 3 and 4 do not agree on primary 1:" << Describe(cluster.StatusesOf(correct));
  cluster.StartBinary(kByzantine, g_byzantine_binary, {"--mode=equivocate"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string log = ReadFile(cluster.LogPath(kByzantine));
        return Contains(log, "byzantine: attack finished");
      },
      seconds(40)))
      << "the Byzantine primary did not finish:\n"
      << ReadFile(cluster.LogPath(kByzantine));
  ASSERT_TRUE(Contains(ReadFile(cluster.LogPath(kByzantine)),
                       "byzantine: equivocated: replica 3 prepared B and was sent A"))
      << ReadFile(cluster.LogPath(kByzantine));

  // Clients asking every replica, the lying primary included.
  BackgroundWriter writer(cluster.ClientConfigOf({2, 3, 4, 1}), "w-", 2000);
  std::map<int64_t, ReplicaStatus> statuses;
  const bool new_view = WaitUntil(
      [&] {
        statuses = cluster.StatusesOf(correct);
        const int64_t primary = AgreedPrimary(statuses, correct);
        return primary != 0 && primary != kByzantine && writer.acked() >= 3;
      },
      seconds(30));
  writer.Stop();
  std::printf("after the equivocation: %s\n", writer.Summary().c_str());
  ASSERT_TRUE(new_view) << "replicas 2, 3 and 4 did not agree on a new primary and order writes "
                           "within 30 s:"
                        << Describe(statuses) << "\nclient: " << writer.Summary();
  EXPECT_TRUE(writer.record().wrong.empty())
      << "the client read back wrong values, e.g. " << writer.record().wrong.front();

  // Not fatal: what the replicas hold says more about a failure.
  KVClient client(cluster.ClientConfigOf({2, 3, 4, 1}));
  Acked acked = writer.record().acked;
  for (int i = 0; i < 5; ++i) {
    const std::string key = absl::StrCat("after-", i);
    absl::Status set = client.Set(key, "a");
    EXPECT_TRUE(set.ok()) << "set " << key << " after the view change: " << set;
    if (set.ok()) acked[key] = "a";
  }
  statuses = ExpectConverged(cluster, correct, "replicas 2, 3 and 4 after the view change");
  for (auto& [id, status] : statuses) EXPECT_GT(status.view(), 0u) << "replica " << id;
  ExpectAckedOn(cluster, correct, acked);
  // Every correct replica holds the B batches, which replica 3 executed in view 0, and no A.
  std::map<int, std::vector<std::pair<std::string, std::string>>> held;
  for (int id : correct) {
    KVClient local(cluster.ClientConfig(id));
    auto range = local.GetRange("equivocation-", "equivocation-~");
    ASSERT_TRUE(range.ok()) << "replica " << id << ": " << range.status();
    held[id] = *range;
    std::string keys;
    for (auto& [key, value] : *range) absl::StrAppend(&keys, " ", key);
    std::printf("replica %d holds:%s\n", id, keys.c_str());
    EXPECT_EQ(held[id], held[correct.front()])
        << "replicas " << id << " and " << correct.front() << " executed different batches";
    for (auto& [key, value] : *range) {
      EXPECT_EQ(key.rfind("equivocation-a-", 0), std::string::npos)
          << "replica " << id << " executed batch A: " << key;
    }
    EXPECT_GE(range->size(), 2u) << "replica " << id << " lost the B batches";
  }
  const std::map<int64_t, int64_t> rejected = RejectedMessages(cluster, {3});
  EXPECT_GT(rejected.count(3) == 0 ? 0 : rejected.at(3), 0)
      << "replica 3 refused nothing, so the second PRE_PREPARE never reached it";
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  return resdb::testing_util::RunTests(
      argc, argv,
      {{"kv_service", &resdb::g_server_binary}, {"byzantine_replica", &resdb::g_byzantine_binary}});
}
