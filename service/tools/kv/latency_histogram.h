#ifndef SERVICE_TOOLS_KV_LATENCY_HISTOGRAM_H_
#define SERVICE_TOOLS_KV_LATENCY_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace resdb {

// Counts of latencies in microseconds, in constant memory per order of magnitude: values below
// 1024 are kept exactly, larger ones in buckets narrower than 1/512 of their value, so a
// percentile is within 0.2% of the true sample. Not thread-safe: keep one per thread and
// Merge them at the end.
class LatencyHistogram {
 public:
  // Negative values count as 0.
  void Record(int64_t micros);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  // The largest recorded value exactly; 0 when empty.
  int64_t max() const { return max_; }
  // The value at quantile `q` (0 < q <= 1): the upper end of the bucket holding the
  // ceil(q * count)-th smallest sample, never above max(). 0 when empty.
  int64_t Percentile(double q) const;

 private:
  std::vector<int64_t> buckets_;
  int64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace resdb

#endif  // SERVICE_TOOLS_KV_LATENCY_HISTOGRAM_H_
