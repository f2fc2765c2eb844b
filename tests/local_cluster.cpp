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
#include <thread>
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

// The body of http://127.0.0.1:<port><path>, empty on any failure.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{};
  timeout.tv_sec = 2;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string response;
  char buffer[4096];
  ssize_t got;
  while ((got = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, got);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") == std::string::npos ||
      body == std::string::npos) {
    return "";
  }
  return response.substr(body + 4);
}

// Makes the certificates `names` (and the CA, once) in `dir` with the deploy scripts' tool,
// as an operator's cluster gets them.
void MakeCertificates(const std::string& dir, const std::string& names) {
  const std::string script =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                   "/scripts/deploy/make_certs.sh");
  const std::string command = absl::StrCat("bash '", script, "' '", dir, "' ", names);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
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
    info->set_port(PickPort());
    if (with_keys_) {
      const std::string public_key = absl::StrCat(dir_, "/replica", id, ".pub.pem");
      absl::Status generated =
          GenerateKeyPair(absl::StrCat(dir_, "/replica", id, ".key.pem"), public_key);
      EXPECT_TRUE(generated.ok()) << generated;
      info->set_public_key_file(public_key);
    }
  }
  data_.set_self_region_id(1);
  tls_ = !data_.allow_plaintext();
  if (tls_) {
    std::string names = "admin client";
    for (int id = 1; id <= replicas_; ++id) absl::StrAppend(&names, " replica-", id);
    MakeCertificates(CertDir(), names);
    if (data_.admin_identities_size() == 0) data_.add_admin_identities("admin");
  }
  config_path_ = dir_ + "/server.config";
  std::ofstream(config_path_) << ResDBConfig::ToJson(ServerData());
  client_config_path_ = dir_ + "/client.config";
  WriteClientConfig();
  pids_.assign(replicas_ + 1, 0);
  metrics_ports_.assign(replicas_ + 1, 0);
}

std::string LocalCluster::CertDir() const { return dir_ + "/certs"; }

ResConfigData LocalCluster::ServerData() const {
  ResConfigData data = data_;
  if (tls_) {
    TlsConfig* tls = data.mutable_tls();
    tls->set_ca_file(CertDir() + "/ca.crt");
    tls->set_cert_file(absl::StrCat(CertDir(), "/replica-", kTlsIdPlaceholder, ".crt"));
    tls->set_key_file(absl::StrCat(CertDir(), "/replica-", kTlsIdPlaceholder, ".key"));
  }
  return data;
}

ResConfigData LocalCluster::ClientData() const {
  ResConfigData data = data_;
  if (tls_) {
    TlsConfig* tls = data.mutable_tls();
    tls->set_ca_file(CertDir() + "/ca.crt");
    tls->set_cert_file(CertDir() + "/admin.crt");
    tls->set_key_file(CertDir() + "/admin.key");
  }
  return data;
}

void LocalCluster::WriteClientConfig() {
  std::ofstream(client_config_path_) << ResDBConfig::ToJson(ClientData());
}

int LocalCluster::AddReplica() {
  const int id = ++replicas_;
  ReplicaInfo* info = data_.mutable_region(0)->add_replica_info();
  info->set_id(id);
  info->set_ip("127.0.0.1");
  info->set_port(PickPort());
  EXPECT_FALSE(with_keys_) << "replicas added at run time need require_signatures off";
  if (tls_) MakeCertificates(CertDir(), absl::StrCat("replica-", id));
  const std::string config = absl::StrCat(dir_, "/server", id, ".config");
  std::ofstream(config) << ResDBConfig::ToJson(ServerData());
  joining_configs_[id] = config;
  WriteClientConfig();
  pids_.push_back(0);
  metrics_ports_.push_back(0);
  return id;
}

std::string LocalCluster::Address(int id) const {
  return absl::StrCat("127.0.0.1:", data_.region(0).replica_info(id - 1).port());
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

int LocalCluster::PickPort() {
  // The kernel may hand a port that was just probed and released out again at the next
  // probe, so ports already given to this cluster are skipped.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int port = FreePort();
    if (port != 0 && taken_ports_.insert(port).second) return port;
  }
  ADD_FAILURE() << "no free port found";
  return 0;
}

void LocalCluster::EnableMetrics() {
  for (int id = 1; id <= replicas_; ++id) {
    if (metrics_ports_[id] == 0) metrics_ports_[id] = PickPort();
  }
}

void LocalCluster::Start(int id) {
  std::vector<std::string> extra;
  if (metrics_ports_[id] != 0) extra.push_back(absl::StrCat("--metrics_port=", metrics_ports_[id]));
  StartBinary(id, server_binary_, extra);
}

void LocalCluster::StartBinary(int id, const std::string& binary,
                               const std::vector<std::string>& extra_args) {
  auto joining = joining_configs_.find(id);
  const std::string& config = joining == joining_configs_.end() ? config_path_ : joining->second;
  std::vector<std::string> args = {binary, "--config=" + config, absl::StrCat("--id=", id),
                                   absl::StrCat("--data_dir=", dir_, "/data", id)};
  if (joining != joining_configs_.end()) args.push_back("--join");
  if (with_keys_) args.push_back(absl::StrCat("--private_key=", dir_, "/replica", id, ".key.pem"));
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  Exec(id, std::move(args));
}

void LocalCluster::Exec(int id, std::vector<std::string> args) {
  ASSERT_EQ(pids_[id], 0) << "replica " << id << " is running";
  const std::string log = LogPath(id);
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

void LocalCluster::Pause(int id) {
  ASSERT_NE(pids_[id], 0) << "replica " << id << " is not running";
  ASSERT_EQ(kill(pids_[id], SIGSTOP), 0) << "replica " << id;
}

void LocalCluster::Resume(int id) {
  ASSERT_NE(pids_[id], 0) << "replica " << id << " is not running";
  ASSERT_EQ(kill(pids_[id], SIGCONT), 0) << "replica " << id;
}

int LocalCluster::RunningCount() const {
  int running = 0;
  for (int id = 1; id <= replicas_; ++id) running += Running(id) ? 1 : 0;
  return running;
}

ResDBConfig LocalCluster::ClientConfig(int only_id) const {
  ResConfigData data = ClientData();
  if (only_id != 0) {
    RegionInfo* region = data.mutable_region(0);
    ReplicaInfo only = region->replica_info(only_id - 1);
    region->clear_replica_info();
    *region->add_replica_info() = only;
  }
  return ResDBConfig(data, 0);
}

ResDBConfig LocalCluster::ClientConfigOf(const std::vector<int>& ids) const {
  ResConfigData data = ClientData();
  RegionInfo* region = data.mutable_region(0);
  const RegionInfo all = *region;
  region->clear_replica_info();
  for (int id : ids) *region->add_replica_info() = all.replica_info(id - 1);
  return ResDBConfig(data, 0);
}

ResDBConfig LocalCluster::ClientConfigWithCertificate(const std::string& name,
                                                      bool foreign_ca) const {
  EXPECT_TRUE(tls_) << "the cluster runs without TLS";
  const std::string dir = foreign_ca ? dir_ + "/foreign_certs" : CertDir();
  if (foreign_ca) MakeCertificates(dir, name);
  ResConfigData data = ClientData();
  data.mutable_tls()->set_cert_file(absl::StrCat(dir, "/", name, ".crt"));
  data.mutable_tls()->set_key_file(absl::StrCat(dir, "/", name, ".key"));
  return ResDBConfig(data, 0);
}

ResDBConfig LocalCluster::PlaintextClientConfig() const {
  ResConfigData data = data_;
  data.clear_tls();
  data.set_allow_plaintext(true);
  return ResDBConfig(data, 0);
}

std::map<int64_t, ReplicaStatus> LocalCluster::Statuses() const {
  std::map<int64_t, ReplicaStatus> out;
  for (auto& [info, status] : GetClusterStatus(ClientConfig(), std::chrono::milliseconds(1000))) {
    if (status.ok() && Running(static_cast<int>(info.id()))) out[info.id()] = *status;
  }
  return out;
}

std::map<std::string, int64_t> LocalCluster::Metrics(int id) const {
  std::map<std::string, int64_t> metrics;
  if (metrics_ports_[id] == 0 || !Running(id)) return metrics;
  // Prometheus text format: "# ..." comment lines and "<name>[{labels}] <value>" samples.
  std::istringstream body(HttpGet(metrics_ports_[id], "/metrics"));
  const std::string prefix = "resdb_";
  for (std::string line; std::getline(body, line);) {
    if (line.empty() || line[0] == '#' || line.rfind(prefix, 0) != 0) continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    std::string name = line.substr(prefix.size(), space - prefix.size());
    if (name.find('{') != std::string::npos) continue;
    metrics[name] = static_cast<int64_t>(std::strtod(line.c_str() + space + 1, nullptr));
  }
  return metrics;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

int RunTests(int argc, char** argv,
             const std::vector<std::pair<std::string, std::string*>>& binaries) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < static_cast<int>(binaries.size()) + 1) {
    std::string usage;
    for (const auto& [name, path] : binaries) absl::StrAppend(&usage, " <", name, " binary>");
    std::fprintf(stderr, "usage: %s%s [gtest flags]\n", argv[0], usage.c_str());
    return 2;
  }
  for (size_t i = 0; i < binaries.size(); ++i) *binaries[i].second = argv[i + 1];
  signal(SIGPIPE, SIG_IGN);
  return RUN_ALL_TESTS();
}

int64_t MetricValue(const std::map<std::string, int64_t>& metrics, const std::string& name) {
  auto it = metrics.find(name);
  return it == metrics.end() ? 0 : it->second;
}

}  // namespace testing_util
}  // namespace resdb
