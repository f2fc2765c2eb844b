#include "platform/common/fuzz/seeds.h"

#include "platform/config/resdb_config.h"

namespace resdb {
namespace fuzz {
namespace {

std::string Cluster(const std::string& protocol, int replicas) {
  ResConfigData data;
  data.set_consensus_protocol(protocol);
  RegionInfo* region = data.add_region();
  region->set_region_id(1);
  for (int id = 1; id <= replicas; ++id) {
    ReplicaInfo* replica = region->add_replica_info();
    replica->set_id(id);
    replica->set_ip("127.0.0.1");
    replica->set_port(20000 + id);
  }
  return ResDBConfig::ToJson(data);
}

}  // namespace

std::map<std::string, std::vector<std::string>> Seeds() {
  return {{"resdb_config_fuzzer",
           {Cluster("raft", 3), Cluster("pbft", 4),
            "# comment\n// comment\n{\"region\": [{\"region_id\": 1, \"replica_info\": [\n"
            "{\"id\": 1, \"ip\": \"127.0.0.1\", \"port\": 20001}]}],\n"
            "\"require_signatures\": false, \"raft_config\": {}, \"pbft_config\": {}}\n"}}};
}

}  // namespace fuzz
}  // namespace resdb
