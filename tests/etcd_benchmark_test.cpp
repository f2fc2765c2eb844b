// kv_benchmark against a real etcd cluster (Debian's etcd-server): the comparison backend
// drives etcd's own KV API, spreads its clients over the members, and reads back what it
// wrote.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "service/tools/testing/closed_port.h"
#include "service/tools/testing/tool_runner.h"
#include "tests/free_port.h"

namespace resdb {
namespace {

using testing::HasSubstr;
using testing_util::FreePort;
using testing_util::RunBinary;
using testing_util::RunfilePath;
using testing_util::TempDir;

constexpr char kEtcd[] = "/usr/bin/etcd";

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

// An etcd cluster of `members` on 127.0.0.1, each member a process of its own with its data
// under the test's temporary directory; with `certs` (a make_certs.sh directory holding an
// "etcd" certificate), clients must come over mutual TLS. The destructor kills and reaps
// every member.
class EtcdCluster {
 public:
  explicit EtcdCluster(int members, const std::string& certs = "") {
    std::vector<std::string> peers;
    for (int i = 0; i < members; ++i) {
      client_ports_.push_back(FreePort());
      peer_ports_.push_back(FreePort());
      peers.push_back(absl::StrCat("m", i, "=http://127.0.0.1:", peer_ports_[i]));
    }
    const std::string cluster = absl::StrJoin(peers, ",");
    const std::string dir = absl::StrCat(TempDir(), "/etcd-", getpid(), "-", client_ports_[0]);
    const std::string client_scheme = certs.empty() ? "http" : "https";
    for (int i = 0; i < members; ++i) {
      const std::string client_url = absl::StrCat(client_scheme, "://127.0.0.1:", client_ports_[i]);
      const std::string peer_url = absl::StrCat("http://127.0.0.1:", peer_ports_[i]);
      std::vector<std::string> args = {kEtcd,
                                       "--name",
                                       absl::StrCat("m", i),
                                       "--data-dir",
                                       absl::StrCat(dir, "/m", i),
                                       "--listen-client-urls",
                                       client_url,
                                       "--advertise-client-urls",
                                       client_url,
                                       "--listen-peer-urls",
                                       peer_url,
                                       "--initial-advertise-peer-urls",
                                       peer_url,
                                       "--initial-cluster",
                                       cluster,
                                       "--initial-cluster-state",
                                       "new"};
      if (!certs.empty()) {
        args.insert(args.end(),
                    {"--cert-file", certs + "/etcd.crt", "--key-file", certs + "/etcd.key",
                     "--trusted-ca-file", certs + "/ca.crt", "--client-cert-auth"});
      }
      Spawn(args, absl::StrCat(dir, "-m", i, ".log"));
    }
  }

  ~EtcdCluster() {
    for (pid_t pid : pids_) kill(pid, SIGKILL);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
  }

  // True once every member accepts connections, false after `timeout`.
  bool WaitUntilServing(std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int port : client_ports_) {
      while (!Accepts(port)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    return true;
  }

  std::string Endpoints() const {
    std::vector<std::string> endpoints;
    for (int port : client_ports_) endpoints.push_back(absl::StrCat("127.0.0.1:", port));
    return absl::StrJoin(endpoints, ",");
  }

 private:
  void Spawn(const std::vector<std::string>& args, const std::string& log) {
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      std::vector<char*> argv;
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    ASSERT_GT(pid, 0);
    pids_.push_back(pid);
  }

  std::vector<int> client_ports_;
  std::vector<int> peer_ports_;
  std::vector<pid_t> pids_;
};

google::protobuf::Struct ReadJson(const std::string& path) {
  google::protobuf::Struct object;
  const std::string json = testing_util::ReadFile(path);
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &object).ok()) << json;
  return object;
}

class EtcdBenchmarkTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kEtcd, X_OK), 0)
        << kEtcd << " is missing: run scripts/install_deps.sh (Debian's etcd-server)";
  }
  const std::string benchmark_ = RunfilePath("service/tools/kv/kv_benchmark");
};

TEST_F(EtcdBenchmarkTest, WritesAndReadsBackThroughEveryMemberOfACluster) {
  EtcdCluster etcd(3);
  ASSERT_TRUE(etcd.WaitUntilServing(std::chrono::seconds(60)));
  const std::string json = absl::StrCat(TempDir(), "/etcd_bench.json");
  const testing_util::RunResult result =
      RunBinary(benchmark_, {"--etcd_endpoints", etcd.Endpoints(), "--clients", "6", "--ops", "300",
                             "--write_ratio", "0.5", "--warmup_s", "0", "--json_out", json});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const google::protobuf::Struct report = ReadJson(json);
  EXPECT_EQ(report.fields().at("ops").number_value(), 300);
  // A read of a key the thread wrote that came back without a value would count as an error.
  EXPECT_EQ(report.fields().at("errors").number_value(), 0) << result.out;
  EXPECT_GT(report.fields().at("throughput_ops_s").number_value(), 0);
  EXPECT_THAT(result.out, HasSubstr("reads)"));
}

// Makes a CA and certificates for `names` in `dir` with the deploy scripts' make_certs.sh.
void MakeCerts(const std::string& dir, const std::vector<std::string>& names) {
  std::vector<std::string> args = {RunfilePath("scripts/deploy/make_certs.sh"), dir};
  args.insert(args.end(), names.begin(), names.end());
  const testing_util::RunResult made = RunBinary("/bin/bash", args);
  ASSERT_EQ(made.exit_code, 0) << made.err;
}

TEST_F(EtcdBenchmarkTest, MutualTlsWithTheMembersCaOnly) {
  const std::string certs = absl::StrCat(TempDir(), "/etcd-certs");
  const std::string other = absl::StrCat(TempDir(), "/other-certs");
  MakeCerts(certs, {"etcd", "client"});
  MakeCerts(other, {"client"});
  EtcdCluster etcd(1, certs);
  ASSERT_TRUE(etcd.WaitUntilServing(std::chrono::seconds(60)));
  auto run = [&](const std::string& client_dir) {
    return RunBinary(benchmark_, {"--etcd_endpoints",
                                  etcd.Endpoints(),
                                  "--etcd_ca",
                                  certs + "/ca.crt",
                                  "--etcd_cert",
                                  client_dir + "/client.crt",
                                  "--etcd_key",
                                  client_dir + "/client.key",
                                  "--etcd_server_name",
                                  "etcd",
                                  "--clients",
                                  "2",
                                  "--ops",
                                  "40",
                                  "--write_ratio",
                                  "0.5",
                                  "--warmup_s",
                                  "0",
                                  "--timeout_ms",
                                  "2000"});
  };
  const testing_util::RunResult ok = run(certs);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("errors      0"));
  // A client certificate of another CA is refused by etcd's --client-cert-auth.
  const testing_util::RunResult stranger = run(other);
  EXPECT_EQ(stranger.exit_code, 1) << stranger.out;
  const testing_util::RunResult plaintext =
      RunBinary(benchmark_, {"--etcd_endpoints", etcd.Endpoints(), "--clients", "1", "--ops", "2",
                             "--warmup_s", "0", "--timeout_ms", "1000"});
  EXPECT_EQ(plaintext.exit_code, 1);
  const testing_util::RunResult no_key = RunBinary(
      benchmark_, {"--etcd_endpoints", etcd.Endpoints(), "--etcd_cert", certs + "/client.crt"});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_THAT(no_key.err, HasSubstr("need --etcd_ca"));
}

TEST_F(EtcdBenchmarkTest, AnUnreachableMemberFailsWithOneLine) {
  ClosedPort down;
  const testing_util::RunResult result = RunBinary(
      benchmark_, {"--etcd_endpoints", absl::StrCat("127.0.0.1:", down.port()), "--clients", "1",
                   "--ops", "2", "--warmup_s", "0", "--timeout_ms", "1000"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

TEST_F(EtcdBenchmarkTest, EitherConfigOrEtcdEndpoints) {
  const testing_util::RunResult neither = RunBinary(benchmark_, {"--ops", "1"});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_THAT(neither.err, HasSubstr("--etcd_endpoints"));
  const testing_util::RunResult bad = RunBinary(benchmark_, {"--etcd_endpoints", "nohostport"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("not host:port"));
}

}  // namespace
}  // namespace resdb
