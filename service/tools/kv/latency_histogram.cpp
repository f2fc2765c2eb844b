#include "service/tools/kv/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace resdb {
namespace {

// Values below kExact get a bucket each; above, each power of two is split in kSubBuckets.
constexpr int kSubBits = 9;
constexpr int64_t kSubBuckets = int64_t{1} << kSubBits;  // 512
constexpr int64_t kExact = kSubBuckets * 2;              // 1024

int BitWidth(uint64_t value) { return value == 0 ? 0 : 64 - __builtin_clzll(value); }

size_t IndexOf(int64_t value) {
  if (value < kExact) return static_cast<size_t>(value);
  const int shift = BitWidth(static_cast<uint64_t>(value)) - (kSubBits + 1);
  const int64_t sub = (value >> shift) - kSubBuckets;
  return static_cast<size_t>(kExact + (shift - 1) * kSubBuckets + sub);
}

// The largest value that falls in bucket `index`.
int64_t UpperBound(size_t index) {
  if (static_cast<int64_t>(index) < kExact) return static_cast<int64_t>(index);
  const int64_t offset = static_cast<int64_t>(index) - kExact;
  const int shift = static_cast<int>(offset / kSubBuckets) + 1;
  const int64_t sub = offset % kSubBuckets + kSubBuckets;
  const uint64_t upper = (static_cast<uint64_t>(sub + 1) << shift) - 1;
  return static_cast<int64_t>(std::min<uint64_t>(upper, INT64_MAX));
}

}  // namespace

void LatencyHistogram::Record(int64_t micros) {
  const int64_t value = std::max<int64_t>(micros, 0);
  const size_t index = IndexOf(value);
  if (index >= buckets_.size()) buckets_.resize(index + 1, 0);
  ++buckets_[index];
  ++count_;
  max_ = std::max(max_, value);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.buckets_.size() > buckets_.size()) buckets_.resize(other.buckets_.size(), 0);
  for (size_t i = 0; i < other.buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  const double clamped = std::min(std::max(q, 0.0), 1.0);
  const int64_t rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(clamped * static_cast<double>(count_))));
  int64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(UpperBound(i), max_);
  }
  return max_;
}

}  // namespace resdb
