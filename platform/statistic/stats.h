#ifndef PLATFORM_STATISTIC_STATS_H_
#define PLATFORM_STATISTIC_STATS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace resdb {

// A monotonically increasing count; Increment is lock-free.
class Counter {
 public:
  void Increment(uint64_t delta = 1) { value_.fetch_add(delta, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (queue lengths, current term).
class Gauge {
 public:
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// The named counters and gauges of one server process, optionally served to Prometheus.
// Names follow Prometheus rules ([a-zA-Z_][a-zA-Z0-9_]*) and are exported with a "resdb_"
// prefix. Thread-safe. Look a metric up once and keep the pointer on hot paths: pointers stay
// valid for the life of the Stats object.
class Stats {
 public:
  Stats();
  ~Stats();
  Stats(const Stats&) = delete;
  Stats& operator=(const Stats&) = delete;

  Counter* GetCounter(const std::string& name);
  Gauge* GetGauge(const std::string& name);

  // Convenience for rare events.
  void Increment(const std::string& name, uint64_t delta = 1) {
    GetCounter(name)->Increment(delta);
  }
  // Current value; 0 for a metric never touched.
  uint64_t CounterValue(const std::string& name);
  int64_t GaugeValue(const std::string& name);

  // Every metric and its value, counters and gauges together.
  std::map<std::string, int64_t> Snapshot();

  // Serves the metrics in Prometheus text format at http://<bind_address>/metrics, e.g.
  // "127.0.0.1:9100". Fails (without throwing) if the address cannot be bound.
  absl::Status StartExporter(const std::string& bind_address);

 private:
  class Collector;

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>> counters_;
  std::map<std::string, std::unique_ptr<Gauge>> gauges_;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace resdb

#endif  // PLATFORM_STATISTIC_STATS_H_
