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
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "service/tools/admin/admin_client.h"
#include "service/tools/kv/kv_client.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string g_server_binary;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return 0;
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string TailOf(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

// Four kv_service processes with their own Ed25519 keys; the destructor kills every one
// still running.
class Cluster {
 public:
  static constexpr int kReplicas = 4;

  explicit Cluster(const std::string& name) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
    mkdir(dir_.c_str(), 0755);
    RegionInfo* region = data_.add_region();
    region->set_region_id(1);
    for (int id = 1; id <= kReplicas; ++id) {
      const std::string private_key = absl::StrCat(dir_, "/replica", id, ".key.pem");
      const std::string public_key = absl::StrCat(dir_, "/replica", id, ".pub.pem");
      absl::Status generated = GenerateKeyPair(private_key, public_key);
      EXPECT_TRUE(generated.ok()) << generated;
      ReplicaInfo* info = region->add_replica_info();
      info->set_id(id);
      info->set_ip("127.0.0.1");
      info->set_port(FreePort());
      info->set_public_key_file(public_key);
    }
    data_.set_self_region_id(1);
    data_.set_consensus_protocol("pbft");
    data_.set_require_signatures(true);
    data_.set_client_timeout_ms(5000);
    data_.set_heartbeat_interval_ms(50);
    data_.mutable_pbft_config()->set_checkpoint_interval(4);
    data_.mutable_pbft_config()->set_watermark_window(16);
    config_path_ = dir_ + "/server.config";
    std::ofstream(config_path_) << ResDBConfig::ToJson(data_);
    pids_.assign(kReplicas + 1, 0);
  }

  ~Cluster() {
    for (int id = 1; id <= kReplicas; ++id) Kill(id);
    if (::testing::Test::HasFailure()) {
      for (int id = 1; id <= kReplicas; ++id) {
        std::fprintf(stderr, "---- replica %d log (tail) ----\n%s\n", id,
                     TailOf(LogPath(id), 3000).c_str());
      }
    }
  }

  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  std::string LogPath(int id) const { return absl::StrCat(dir_, "/replica", id, ".log"); }

  void Start(int id) {
    ASSERT_EQ(pids_[id], 0) << "replica " << id << " is running";
    const std::string log = LogPath(id);
    const std::string id_flag = absl::StrCat("--id=", id);
    const std::string config_flag = "--config=" + config_path_;
    const std::string data_flag = absl::StrCat("--data_dir=", dir_, "/data", id);
    const std::string key_flag = absl::StrCat("--private_key=", dir_, "/replica", id, ".key.pem");
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Dies with the test process even if the test itself is killed.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execl(g_server_binary.c_str(), g_server_binary.c_str(), config_flag.c_str(), id_flag.c_str(),
            data_flag.c_str(), key_flag.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    pids_[id] = pid;
  }

  void StartAll() {
    for (int id = 1; id <= kReplicas; ++id) Start(id);
  }

  // kill -9 and reap.
  void Kill(int id) {
    if (pids_[id] == 0) return;
    kill(pids_[id], SIGKILL);
    waitpid(pids_[id], nullptr, 0);
    pids_[id] = 0;
  }

  ResDBConfig ClientConfig(int only_id = 0) const {
    ResConfigData data = data_;
    if (only_id != 0) {
      RegionInfo* region = data.mutable_region(0);
      ReplicaInfo only = region->replica_info(only_id - 1);
      region->clear_replica_info();
      *region->add_replica_info() = only;
    }
    return ResDBConfig(data, 0);
  }

  std::map<int64_t, ReplicaStatus> Statuses() const {
    std::map<int64_t, ReplicaStatus> out;
    for (auto& [info, status] : GetClusterStatus(ClientConfig(), milliseconds(1000))) {
      if (status.ok()) out[info.id()] = *status;
    }
    return out;
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

 private:
  std::string dir_;
  std::string config_path_;
  ResConfigData data_;
  std::vector<pid_t> pids_;
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
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <kv_service binary>\n", argv[0]);
    return 2;
  }
  resdb::g_server_binary = argv[1];
  signal(SIGPIPE, SIG_IGN);
  return RUN_ALL_TESTS();
}
