#include "service/tools/kv/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace {

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0);
  EXPECT_EQ(histogram.max(), 0);
  EXPECT_EQ(histogram.Percentile(0.5), 0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (int64_t v = 1; v <= 100; ++v) histogram.Record(v);
  EXPECT_EQ(histogram.count(), 100);
  EXPECT_EQ(histogram.max(), 100);
  EXPECT_EQ(histogram.Percentile(0.5), 50);
  EXPECT_EQ(histogram.Percentile(0.99), 99);
  EXPECT_EQ(histogram.Percentile(0.999), 100);
  EXPECT_EQ(histogram.Percentile(1.0), 100);
}

TEST(LatencyHistogramTest, NegativeCountsAsZero) {
  LatencyHistogram histogram;
  histogram.Record(-5);
  EXPECT_EQ(histogram.count(), 1);
  EXPECT_EQ(histogram.Percentile(1.0), 0);
}

TEST(LatencyHistogramTest, LargeValuesWithinTheRelativeError) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(8.0, 1.5);
  std::vector<int64_t> samples;
  LatencyHistogram histogram;
  for (int i = 0; i < 100000; ++i) {
    const int64_t v = static_cast<int64_t>(latency(rng));
    samples.push_back(v);
    histogram.Record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const int64_t exact = samples[static_cast<size_t>(std::ceil(q * samples.size())) - 1];
    const int64_t estimate = histogram.Percentile(q);
    EXPECT_GE(estimate, exact) << q;
    EXPECT_LE(estimate, exact + exact / 512 + 1) << q;
  }
  EXPECT_EQ(histogram.max(), samples.back());
  EXPECT_EQ(histogram.Percentile(1.0), samples.back());
}

TEST(LatencyHistogramTest, HugeValuesDoNotOverflow) {
  LatencyHistogram histogram;
  histogram.Record(INT64_MAX);
  histogram.Record(int64_t{1} << 40);
  EXPECT_EQ(histogram.max(), INT64_MAX);
  EXPECT_EQ(histogram.Percentile(1.0), INT64_MAX);
  const int64_t low = histogram.Percentile(0.5);
  EXPECT_GE(low, int64_t{1} << 40);
  EXPECT_LE(low, (int64_t{1} << 40) + ((int64_t{1} << 40) / 512));
}

TEST(LatencyHistogramTest, MergeAddsCountsAndKeepsTheMax) {
  LatencyHistogram a;
  LatencyHistogram b;
  for (int64_t v = 1; v <= 50; ++v) a.Record(v);
  for (int64_t v = 51; v <= 100; ++v) b.Record(v * 1000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100);
  EXPECT_EQ(a.max(), 100000);
  EXPECT_EQ(a.Percentile(0.5), 50);
  const int64_t p99 = a.Percentile(0.99);
  EXPECT_GE(p99, 99000);
  EXPECT_LE(p99, 99000 + 99000 / 512 + 1);
}

}  // namespace
}  // namespace resdb
