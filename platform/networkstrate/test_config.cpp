#include "platform/networkstrate/test_config.h"

#include <utility>

namespace resdb {
namespace testing_util {

ResDBConfig MakeTestConfig(int64_t self_id, const std::vector<TestReplica>& replicas,
                           ResConfigData base) {
  if (!base.has_heartbeat_interval_ms()) base.set_heartbeat_interval_ms(3600 * 1000);
  if (!base.has_tls()) base.set_allow_plaintext(true);
  base.clear_region();
  RegionInfo* region = base.add_region();
  for (const TestReplica& replica : replicas) {
    ReplicaInfo* info = region->add_replica_info();
    info->set_id(replica.id);
    info->set_ip("127.0.0.1");
    info->set_port(replica.port);
  }
  return ResDBConfig(std::move(base), self_id);
}

}  // namespace testing_util
}  // namespace resdb
