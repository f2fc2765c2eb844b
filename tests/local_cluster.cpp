#include "tests/local_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/common/crypto/signature.h"
#include "service/tools/admin/admin_client.h"

namespace resdb {
namespace testing_util {
namespace {

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

}  // namespace

LocalCluster::LocalCluster(std::string server_binary, const std::string& name, int replicas,
                           ResConfigData settings, bool with_keys)
    : server_binary_(std::move(server_binary)),
      replicas_(replicas),
      with_keys_(with_keys),
      data_(std::move(settings)) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  mkdir(dir_.c_str(), 0755);
  data_.clear_region();
  RegionInfo* region = data_.add_region();
  region->set_region_id(1);
  for (int id = 1; id <= replicas_; ++id) {
    ReplicaInfo* info = region->add_replica_info();
    info->set_id(id);
    info->set_ip("127.0.0.1");
    info->set_port(FreePort());
    if (with_keys_) {
      const std::string public_key = absl::StrCat(dir_, "/replica", id, ".pub.pem");
      absl::Status generated =
          GenerateKeyPair(absl::StrCat(dir_, "/replica", id, ".key.pem"), public_key);
      EXPECT_TRUE(generated.ok()) << generated;
      info->set_public_key_file(public_key);
    }
  }
  data_.set_self_region_id(1);
  config_path_ = dir_ + "/server.config";
  std::ofstream(config_path_) << ResDBConfig::ToJson(data_);
  pids_.assign(replicas_ + 1, 0);
}

LocalCluster::~LocalCluster() {
  for (int id = 1; id <= replicas_; ++id) Kill(id);
  if (::testing::Test::HasFailure()) {
    for (int id = 1; id <= replicas_; ++id) {
      std::fprintf(stderr, "---- replica %d log (tail) ----\n%s\n", id,
                   TailOf(LogPath(id), 3000).c_str());
    }
  }
}

std::string LocalCluster::LogPath(int id) const {
  return absl::StrCat(dir_, "/replica", id, ".log");
}

void LocalCluster::Start(int id) {
  ASSERT_EQ(pids_[id], 0) << "replica " << id << " is running";
  const std::string log = LogPath(id);
  std::vector<std::string> args = {server_binary_, "--config=" + config_path_,
                                   absl::StrCat("--id=", id),
                                   absl::StrCat("--data_dir=", dir_, "/data", id)};
  if (with_keys_) args.push_back(absl::StrCat("--private_key=", dir_, "/replica", id, ".key.pem"));
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
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
    execv(argv[0], argv.data());
    _exit(127);
  }
  pids_[id] = pid;
}

void LocalCluster::StartAll() {
  for (int id = 1; id <= replicas_; ++id) Start(id);
}

void LocalCluster::Kill(int id) {
  if (pids_[id] == 0) return;
  kill(pids_[id], SIGKILL);
  waitpid(pids_[id], nullptr, 0);
  pids_[id] = 0;
}

int LocalCluster::RunningCount() const {
  int running = 0;
  for (int id = 1; id <= replicas_; ++id) running += Running(id) ? 1 : 0;
  return running;
}

ResDBConfig LocalCluster::ClientConfig(int only_id) const {
  ResConfigData data = data_;
  if (only_id != 0) {
    RegionInfo* region = data.mutable_region(0);
    ReplicaInfo only = region->replica_info(only_id - 1);
    region->clear_replica_info();
    *region->add_replica_info() = only;
  }
  return ResDBConfig(data, 0);
}

std::map<int64_t, ReplicaStatus> LocalCluster::Statuses() const {
  std::map<int64_t, ReplicaStatus> out;
  for (auto& [info, status] : GetClusterStatus(ClientConfig(), std::chrono::milliseconds(1000))) {
    if (status.ok() && Running(static_cast<int>(info.id()))) out[info.id()] = *status;
  }
  return out;
}

}  // namespace testing_util
}  // namespace resdb
