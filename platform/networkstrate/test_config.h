#ifndef PLATFORM_NETWORKSTRATE_TEST_CONFIG_H_
#define PLATFORM_NETWORKSTRATE_TEST_CONFIG_H_

#include <cstdint>
#include <vector>

#include "platform/config/resdb_config.h"

namespace resdb {
namespace testing_util {

struct TestReplica {
  int64_t id;
  int port;  // 0: pick a free port when serving
};

// A config of replicas on 127.0.0.1. Fields set in `base` are kept; unless `base` sets it,
// the heartbeat interval is an hour so heartbeats stay out of tests that do not want them,
// and a config without `tls` runs in plaintext (allow_plaintext).
ResDBConfig MakeTestConfig(int64_t self_id, const std::vector<TestReplica>& replicas,
                           ResConfigData base = ResConfigData());

}  // namespace testing_util
}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_TEST_CONFIG_H_
