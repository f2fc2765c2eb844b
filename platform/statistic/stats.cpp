#include "platform/statistic/stats.h"

#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"

namespace resdb {

// Produces Prometheus families from the live counters at scrape time, so the hot path only
// touches one atomic.
class Stats::Collector : public prometheus::Collectable {
 public:
  explicit Collector(Stats* stats) : stats_(stats) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    std::lock_guard<std::mutex> lock(stats_->mu_);
    for (const auto& [name, counter] : stats_->counters_) {
      families.push_back(Family(name, prometheus::MetricType::Counter, counter->Value()));
    }
    for (const auto& [name, gauge] : stats_->gauges_) {
      families.push_back(Family(name, prometheus::MetricType::Gauge, gauge->Value()));
    }
    return families;
  }

 private:
  static prometheus::MetricFamily Family(const std::string& name, prometheus::MetricType type,
                                         double value) {
    prometheus::MetricFamily family;
    family.name = "resdb_" + name;
    family.help = name;
    family.type = type;
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
    return family;
  }

  Stats* stats_;
};

Stats::Stats() : collector_(std::make_shared<Collector>(this)) {}

Stats::~Stats() {
  // The exposer's threads may be collecting: stop them before the metrics go away.
  exposer_.reset();
}

Counter* Stats::GetCounter(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Counter>& counter = counters_[name];
  if (counter == nullptr) counter = std::make_unique<Counter>();
  return counter.get();
}

Gauge* Stats::GetGauge(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Gauge>& gauge = gauges_[name];
  if (gauge == nullptr) gauge = std::make_unique<Gauge>();
  return gauge.get();
}

uint64_t Stats::CounterValue(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(name);
  return it == counters_.end() ? 0 : it->second->Value();
}

int64_t Stats::GaugeValue(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = gauges_.find(name);
  return it == gauges_.end() ? 0 : it->second->Value();
}

std::map<std::string, int64_t> Stats::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int64_t> values;
  for (const auto& [name, counter] : counters_) {
    values[name] = static_cast<int64_t>(counter->Value());
  }
  for (const auto& [name, gauge] : gauges_) values[name] = gauge->Value();
  return values;
}

absl::Status Stats::StartExporter(const std::string& bind_address) {
  if (exposer_ != nullptr) return absl::FailedPreconditionError("metrics exporter already runs");
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(bind_address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", bind_address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(collector_);
  return absl::OkStatus();
}

}  // namespace resdb
