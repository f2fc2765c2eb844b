#ifndef TESTS_LOCAL_CLUSTER_H_
#define TESTS_LOCAL_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "platform/config/resdb_config.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace testing_util {

// Real kv_service processes on 127.0.0.1 for multi-process tests. Each replica gets a free
// port, its data under <TEST_TMPDIR>/<name>/data<ID> and its log in replica<ID>.log.
// Unless `settings` sets allow_plaintext, the cluster runs with mutual TLS as deployments do:
// <name>/certs holds a CA, a certificate per replica, an "admin" client certificate, which
// every client config uses and the replicas accept as admin identity, and a "client" one,
// which they do not. The
// destructor kills every process still running (and prints the logs' tails if the test
// failed); each child also dies with the test process.
class LocalCluster {
 public:
  // `settings` holds the protocol and its tuning; the replicas are added here. With
  // `with_keys`, every replica gets an Ed25519 key pair and is started with --private_key.
  LocalCluster(std::string server_binary, const std::string& name, int replicas,
               ResConfigData settings, bool with_keys);
  ~LocalCluster();

  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // From now on every kv_service started serves its Prometheus metrics on a port of its own
  // (see Metrics()); the port of a replica stays the same across restarts.
  void EnableMetrics();

  void Start(int id);
  void StartAll();
  // RAFT: a new replica, id replicas() + 1, for a membership change. It gets a port and a
  // config file of its own listing every replica so far, and Start(id) runs it with --join
  // (the running replicas keep their config). ClientConfig() and client_config_path() list it
  // from now on.
  int AddReplica();
  // A client config file listing every replica, added ones included.
  const std::string& client_config_path() const { return client_config_path_; }
  // "127.0.0.1:<port>" of replica `id`.
  std::string Address(int id) const;
  // Runs `binary` as replica `id` in place of kv_service, with the flags kv_service gets
  // (--config, --id, --data_dir and, with keys, --private_key) followed by `extra_args`.
  void StartBinary(int id, const std::string& binary,
                   const std::vector<std::string>& extra_args = {});
  // kill -9 and reap.
  void Kill(int id);
  // SIGSTOP / SIGCONT: the replica keeps its connections but answers nothing until resumed,
  // like a process stalled on a slow disk or a long pause. Kill() also ends a paused one.
  void Pause(int id);
  void Resume(int id);
  bool Running(int id) const { return pids_[id] != 0; }
  int RunningCount() const;
  int replicas() const { return replicas_; }
  std::string LogPath(int id) const;
  // The config file the replicas run with (not a client config: clients use
  // client_config_path()).
  const std::string& config_path() const { return config_path_; }

  // A client config listing every replica, or only replica `only_id`.
  ResDBConfig ClientConfig(int only_id = 0) const;
  // A client config listing the replicas `ids` in that order.
  ResDBConfig ClientConfigOf(const std::vector<int>& ids) const;
  // ClientConfig() with the certificate `name` ("client": not an admin) of the cluster's CA,
  // or of a CA the cluster does not know (`foreign_ca`). TLS clusters only.
  ResDBConfig ClientConfigWithCertificate(const std::string& name, bool foreign_ca = false) const;
  // ClientConfig() without TLS.
  ResDBConfig PlaintextClientConfig() const;
  // The status of every running replica that answered.
  std::map<int64_t, ReplicaStatus> Statuses() const;
  // Every metric replica `id` exports (names without the "resdb_" prefix); empty when
  // metrics are off or the replica does not answer.
  std::map<std::string, int64_t> Metrics(int id) const;

 private:
  // A free port not yet given to any replica of this cluster.
  int PickPort();
  void WriteClientConfig();
  std::string CertDir() const;
  // data_ with the TLS settings of a replica ("{id}") or of the admin client.
  ResConfigData ServerData() const;
  ResConfigData ClientData() const;
  void Exec(int id, std::vector<std::string> args);

  const std::string server_binary_;
  int replicas_;
  const bool with_keys_;
  bool tls_ = false;
  std::string dir_;
  std::string config_path_;
  std::string client_config_path_;
  // Replicas added by AddReplica(): the config file each one runs with.
  std::map<int, std::string> joining_configs_;
  ResConfigData data_;
  std::vector<pid_t> pids_;
  std::vector<int> metrics_ports_;  // 0: metrics off
  std::set<int> taken_ports_;
};

// Evaluates `condition` every `poll` until it holds (true) or `timeout` has passed (false).
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll = std::chrono::milliseconds(50));

// The main of a multi-process test: takes the paths of the binaries it runs from its
// arguments, in the order of `binaries` (each a name for the usage line and where to store
// the path), ignores SIGPIPE and runs every test. Exits 2 with a usage line when one is missing.
int RunTests(int argc, char** argv,
             const std::vector<std::pair<std::string, std::string*>>& binaries);

// The value of metric `name` in `metrics`, 0 when absent.
int64_t MetricValue(const std::map<std::string, int64_t>& metrics, const std::string& name);

}  // namespace testing_util
}  // namespace resdb

#endif  // TESTS_LOCAL_CLUSTER_H_
