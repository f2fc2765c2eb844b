#ifndef SERVICE_TOOLS_KV_ETCD_TARGET_H_
#define SERVICE_TOOLS_KV_ETCD_TARGET_H_

#include <chrono>
#include <memory>
#include <string>

#include "service/tools/kv/benchmark_target.h"

namespace resdb {

// An etcd v3 cluster member at `endpoint` ("host:port", plaintext gRPC), through its KV API:
// Set is a Put, Get a linearizable Range of one key. Each request has `timeout`; gRPC
// errors come back with their code and message.
std::unique_ptr<BenchmarkTarget> NewEtcdTarget(const std::string& endpoint,
                                               std::chrono::milliseconds timeout);

}  // namespace resdb

#endif  // SERVICE_TOOLS_KV_ETCD_TARGET_H_
