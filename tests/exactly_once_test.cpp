// Exactly-once apply of versioned writes across a crash of every replica, on a real 3-replica
// RAFT cluster and a real 4-replica signed PBFT cluster of kv_service processes. Concurrent
// writers each own a few keys and write them in sequence with SetWithVersion; every replica is
// killed with kill -9 in the middle of the writes and restarted. A write whose answer was lost
// may or may not have been applied, so each value names its attempt: the version history of a
// key then tells exactly which attempts were applied, and none may appear twice. Every
// process the test starts is killed when its cluster object goes away, also when a check fails.
//
//   exactly_once_test <path of kv_service> [gtest flags]
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "interface/kv/kv_client.h"
#include "platform/config/resdb_config.h"
#include "tests/local_cluster.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing_util::WaitUntil;

std::string g_server_binary;

constexpr int kWriters = 4;
constexpr int kKeysPerWriter = 3;
// Acknowledged writes wanted before the crash and again after the restart.
constexpr int kAcksPerPhase = 400;
// A writer moves on to a fresh key once a key reaches this version, so that the whole history
// of every key, the final write and a few lost-answer writes included, stays within the
// Storage::kMaxVersionHistory versions kept and the check below sees every applied write.
constexpr uint64_t kVersionsPerKey = 10;

ResConfigData Settings(const std::string& protocol) {
  ResConfigData data;
  data.set_consensus_protocol(protocol);
  data.set_client_timeout_ms(3000);
  if (protocol == "raft") {
    data.set_require_signatures(false);
    data.mutable_raft_config()->set_heartbeat_interval_ms(30);
    data.mutable_raft_config()->set_election_timeout_min_ms(200);
    data.mutable_raft_config()->set_election_timeout_max_ms(400);
  } else {
    data.set_require_signatures(true);
    data.set_heartbeat_interval_ms(50);
    data.mutable_pbft_config()->set_checkpoint_interval(4);
    data.mutable_pbft_config()->set_watermark_window(16);
    data.mutable_pbft_config()->set_view_change_timeout_ms(1000);
  }
  return data;
}

// What one writer knows of one of its keys.
struct KeyRecord {
  // The version the writer last learned (from an acknowledgement or a read).
  uint64_t version = 0;
  // Acknowledged attempt -> the version it was acknowledged with.
  std::map<std::string, uint64_t> acknowledged;
  // Attempts whose outcome the writer never learned from their answer.
  std::set<std::string> unknown;
  // Acknowledgements with a version other than the one expected + 1.
  std::vector<std::string> wrong_versions;
};

// The index every replica has executed up to: applied_index (RAFT) or executed_seq (PBFT).
uint64_t ExecutedIndex(const ReplicaStatus& status, const std::string& protocol) {
  return protocol == "raft" ? status.applied_index() : status.executed_seq();
}

std::string Describe(const std::map<int64_t, ReplicaStatus>& statuses,
                     const std::string& protocol) {
  std::string out;
  for (const auto& [id, status] : statuses) {
    absl::StrAppend(&out, "\n  replica ", id, ": role ", status.role(), " index ",
                    ExecutedIndex(status, protocol), " state_digest ",
                    absl::BytesToHexString(status.state_digest()));
  }
  return out.empty() ? "\n  (no replica answered)" : out;
}

class ExactlyOnceTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string protocol() const { return GetParam(); }
  int replicas() const { return protocol() == "raft" ? 3 : 4; }

  // Every replica answers and reports the same executed index and a non-empty state digest.
  bool Converged(const testing_util::LocalCluster& cluster,
                 std::map<int64_t, ReplicaStatus>* statuses) const {
    *statuses = cluster.Statuses();
    if (static_cast<int>(statuses->size()) != replicas()) return false;
    const ReplicaStatus& first = statuses->begin()->second;
    if (first.state_digest().empty() || ExecutedIndex(first, protocol()) == 0) return false;
    for (const auto& [id, status] : *statuses) {
      if (ExecutedIndex(status, protocol()) != ExecutedIndex(first, protocol()) ||
          status.state_digest() != first.state_digest()) {
        return false;
      }
    }
    return true;
  }

  void ExpectConverged(const testing_util::LocalCluster& cluster, const std::string& what) const {
    std::map<int64_t, ReplicaStatus> statuses;
    const bool converged = WaitUntil([&] { return Converged(cluster, &statuses); }, seconds(20));
    std::printf("%s:%s\n", what.c_str(), Describe(statuses, protocol()).c_str());
    EXPECT_TRUE(converged) << what << ": the replicas do not report the same state digest at "
                           << "the same index:" << Describe(statuses, protocol());
  }
};

std::string KeyName(int writer, int slot, int generation) {
  return absl::StrCat("w", writer, "-k", slot, "-", generation);
}

// Reads the key's latest version, retrying through unavailability until `deadline`; 0 when the
// key was never written. False if no read succeeded in time.
bool ReadVersion(KVClient& client, const std::string& key, Clock::time_point deadline,
                 uint64_t* version) {
  while (Clock::now() < deadline) {
    auto read = client.GetWithVersion(key);
    if (read.ok()) {
      *version = read->version;
      return true;
    }
    if (absl::IsNotFound(read.status())) {
      *version = 0;
      return true;
    }
  }
  return false;
}

TEST_P(ExactlyOnceTest, VersionedWritersSurviveKillingEveryReplica) {
  testing_util::LocalCluster cluster(g_server_binary, absl::StrCat("exactly_once_", protocol()),
                                     replicas(), Settings(protocol()),
                                     /*with_keys=*/protocol() == "pbft");
  cluster.StartAll();

  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::atomic<int> lost_reads{0};
  std::atomic<int> lost_answers{0};
  std::atomic<int> mismatches{0};
  std::mutex mu;
  std::map<std::string, KeyRecord> records;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      KVClient client(cluster.ClientConfig());
      std::map<std::string, KeyRecord> mine;
      std::vector<int> generation(kKeysPerWriter, 0);
      for (int attempt = 0; !stop.load(); ++attempt) {
        const int slot = attempt % kKeysPerWriter;
        std::string key = KeyName(w, slot, generation[slot]);
        if (mine[key].version >= kVersionsPerKey) key = KeyName(w, slot, ++generation[slot]);
        KeyRecord& record = mine[key];
        const std::string value = absl::StrCat(key, "#", attempt);
        auto version = client.SetWithVersion(key, value, record.version);
        if (version.ok()) {
          if (*version != record.version + 1) {
            record.wrong_versions.push_back(absl::StrCat(value, " acknowledged with version ",
                                                         *version, " after ", record.version));
          }
          record.acknowledged[value] = *version;
          record.version = *version;
          acked.fetch_add(1);
          continue;
        }
        // Lost answer (crash, timeout) or VERSION_MISMATCH: an earlier or this attempt may
        // have been applied meanwhile. Continue from what the key holds now; the history
        // checked at the end says which attempts were applied.
        record.unknown.insert(value);
        (absl::IsFailedPrecondition(version.status()) ? mismatches : lost_answers).fetch_add(1);
        if (!ReadVersion(client, key, Clock::now() + seconds(30), &record.version)) {
          lost_reads.fetch_add(1);
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      records.merge(mine);
    });
  }

  // The writers are stopped and joined before any check can end the test.
  const auto stop_writers = [&] {
    stop.store(true);
    for (std::thread& writer : writers) writer.join();
  };
  if (!WaitUntil([&] { return acked.load() >= kAcksPerPhase; }, seconds(20), milliseconds(10))) {
    stop_writers();
    FAIL() << "only " << acked.load() << " writes acknowledged before the crash";
  }
  const int before_crash = acked.load();
  for (int id = 1; id <= replicas(); ++id) cluster.Kill(id);
  // Down for longer than the client timeout, so that the writes in flight at the crash lose
  // their answers instead of being retried into the restarted cluster by the client.
  EXPECT_TRUE(
      WaitUntil([&] { return lost_answers.load() >= kWriters; }, seconds(15), milliseconds(10)))
      << "the writers did not notice the crash";
  const auto restarted_at = Clock::now();
  cluster.StartAll();
  const bool resumed = WaitUntil([&] { return acked.load() >= before_crash + kAcksPerPhase; },
                                 seconds(30), milliseconds(10));
  const double resume_seconds = std::chrono::duration<double>(Clock::now() - restarted_at).count();
  stop_writers();
  ASSERT_TRUE(resumed) << "writes did not resume after restarting every replica: "
                       << acked.load() - before_crash << " acknowledged since";
  EXPECT_EQ(lost_reads.load(), 0) << "writers could not read their keys back after the restart";
  std::printf(
      "%s: %d writes acknowledged before the crash, %d after the restart (%d within "
      "%.1f s)\n",
      protocol().c_str(), before_crash, acked.load() - before_crash, kAcksPerPhase, resume_seconds);

  ExpectConverged(cluster, "after the writers stopped");

  // The cluster keeps taking writes: one more versioned write per key, at the version it holds.
  KVClient client(cluster.ClientConfig());
  for (auto& [key, record] : records) {
    uint64_t current = 0;
    ASSERT_TRUE(ReadVersion(client, key, Clock::now() + seconds(10), &current)) << key;
    const std::string value = absl::StrCat(key, "#final");
    auto version = client.SetWithVersion(key, value, current);
    ASSERT_TRUE(version.ok()) << "write to " << key << " at version " << current
                              << " after the restart: " << version.status();
    EXPECT_EQ(*version, current + 1) << key;
    record.acknowledged[value] = *version;
  }
  ExpectConverged(cluster, "after the final writes");

  // Every version of a key is one attempt of its writer; no attempt is there twice; every
  // acknowledged attempt is there at the version it was acknowledged with; every other one was
  // an attempt whose answer was lost. So the final version is the acknowledged writes plus the
  // lost-answer writes that were applied, each once.
  int total_acked = 0;
  int total_unknown = 0;
  int applied_unknown = 0;
  for (const auto& [key, record] : records) {
    EXPECT_TRUE(record.wrong_versions.empty())
        << key << ": " << absl::StrJoin(record.wrong_versions, "; ");
    auto history = client.GetHistory(key);
    ASSERT_TRUE(history.ok()) << key << ": " << history.status();
    std::map<std::string, uint64_t> applied;  // attempt -> version
    for (size_t i = 0; i < history->size(); ++i) {
      const KVClient::VersionedValue& entry = (*history)[i];
      // A history not starting at version 1 lost versions to the cap: more were applied than
      // the writer ever attempted on this key.
      EXPECT_EQ(entry.version, i + 1)
          << key << ": the kept history does not run from version 1 without gaps";
      auto [it, inserted] = applied.emplace(entry.value, entry.version);
      EXPECT_TRUE(inserted) << key << ": attempt " << entry.value << " applied twice, at versions "
                            << it->second << " and " << entry.version;
    }
    for (const auto& [value, version] : record.acknowledged) {
      auto it = applied.find(value);
      ASSERT_NE(it, applied.end()) << key << ": acknowledged write " << value << " (version "
                                   << version << ") is not in the history";
      EXPECT_EQ(it->second, version) << key << ": " << value;
    }
    int visible_unknown = 0;
    for (const auto& [value, version] : applied) {
      if (record.acknowledged.count(value) > 0) continue;
      EXPECT_EQ(record.unknown.count(value), 1u)
          << key << ": version " << version << " holds " << value
          << ", an attempt that was acknowledged otherwise or never made";
      ++visible_unknown;
    }
    const uint64_t final_version = history->empty() ? 0 : history->back().version;
    EXPECT_EQ(final_version, record.acknowledged.size() + visible_unknown)
        << key << ": " << record.acknowledged.size() << " acknowledged, " << visible_unknown
        << " of " << record.unknown.size() << " lost-answer writes applied";
    EXPECT_LE(final_version, record.acknowledged.size() + record.unknown.size())
        << key << ": more versions than attempts";
    total_acked += record.acknowledged.size();
    total_unknown += record.unknown.size();
    applied_unknown += visible_unknown;
  }
  std::printf(
      "%s: %d keys, %d acknowledged writes, %d of %d unanswered writes found applied (%d "
      "failed for the cluster being down, %d with VERSION_MISMATCH)\n",
      protocol().c_str(), static_cast<int>(records.size()), total_acked, applied_unknown,
      total_unknown, lost_answers.load(), mismatches.load());
}

INSTANTIATE_TEST_SUITE_P(Protocols, ExactlyOnceTest, ::testing::Values("raft", "pbft"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  return resdb::testing_util::RunTests(argc, argv, {{"kv_service", &resdb::g_server_binary}});
}
