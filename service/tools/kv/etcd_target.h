#ifndef SERVICE_TOOLS_KV_ETCD_TARGET_H_
#define SERVICE_TOOLS_KV_ETCD_TARGET_H_

#include <chrono>
#include <memory>
#include <string>

#include "service/tools/kv/benchmark_target.h"

namespace resdb {

// How to reach etcd over TLS: PEM contents of the CA that signed the members' certificates,
// and of this client's certificate and key (etcd's --client-cert-auth), and the name the
// members' certificates carry. Empty `ca`: plaintext.
struct EtcdTls {
  std::string ca;
  std::string cert;
  std::string key;
  std::string server_name;
};

// An etcd v3 cluster member at `endpoint` ("host:port"), through its KV API: Set is a Put,
// Get a linearizable Range of one key. Each request has `timeout`; gRPC errors come back with
// their code and message.
std::unique_ptr<BenchmarkTarget> NewEtcdTarget(const std::string& endpoint,
                                               std::chrono::milliseconds timeout,
                                               const EtcdTls& tls = {});

}  // namespace resdb

#endif  // SERVICE_TOOLS_KV_ETCD_TARGET_H_
