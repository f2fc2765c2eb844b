#ifndef TESTS_LOCAL_CLUSTER_H_
#define TESTS_LOCAL_CLUSTER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "platform/config/resdb_config.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace testing_util {

// Real kv_service processes on 127.0.0.1 for multi-process tests. Each replica gets a free
// port, its data under <TEST_TMPDIR>/<name>/data<ID> and its log in replica<ID>.log. The
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

  void Start(int id);
  void StartAll();
  // kill -9 and reap.
  void Kill(int id);
  bool Running(int id) const { return pids_[id] != 0; }
  int RunningCount() const;
  int replicas() const { return replicas_; }
  std::string LogPath(int id) const;

  // A client config listing every replica, or only replica `only_id`.
  ResDBConfig ClientConfig(int only_id = 0) const;
  // The status of every running replica that answered.
  std::map<int64_t, ReplicaStatus> Statuses() const;

 private:
  const std::string server_binary_;
  const int replicas_;
  const bool with_keys_;
  std::string dir_;
  std::string config_path_;
  ResConfigData data_;
  std::vector<pid_t> pids_;
};

}  // namespace testing_util
}  // namespace resdb

#endif  // TESTS_LOCAL_CLUSTER_H_
