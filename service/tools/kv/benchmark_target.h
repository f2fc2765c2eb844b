#ifndef SERVICE_TOOLS_KV_BENCHMARK_TARGET_H_
#define SERVICE_TOOLS_KV_BENCHMARK_TARGET_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "interface/kv/kv_client.h"

namespace resdb {

// What kv_benchmark measures: one client's writes and linearizable reads of a key-value store.
// One per client thread; not shared between threads.
class BenchmarkTarget {
 public:
  virtual ~BenchmarkTarget() = default;
  virtual absl::Status Set(const std::string& key, const std::string& value) = 0;
  // NotFoundError if the key has no value.
  virtual absl::StatusOr<std::string> Get(const std::string& key) = 0;
};

// This project's replicas, through KVClient (linearizable reads).
class ResDBTarget : public BenchmarkTarget {
 public:
  explicit ResDBTarget(std::unique_ptr<KVClient> client) : client_(std::move(client)) {}
  absl::Status Set(const std::string& key, const std::string& value) override {
    return client_->Set(key, value);
  }
  absl::StatusOr<std::string> Get(const std::string& key) override { return client_->Get(key); }

 private:
  std::unique_ptr<KVClient> client_;
};

}  // namespace resdb

#endif  // SERVICE_TOOLS_KV_BENCHMARK_TARGET_H_
