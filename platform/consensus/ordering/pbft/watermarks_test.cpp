#include "platform/consensus/ordering/pbft/watermarks.h"

#include <gtest/gtest.h>

#include <limits>

namespace resdb {
namespace pbft {
namespace {

TEST(WatermarksTest, Watermarks_StartAtGenesisWithFullWindow) {
  Watermarks w(400);
  EXPECT_EQ(w.low(), 0u);
  EXPECT_EQ(w.high(), 400u);
  EXPECT_EQ(w.window(), 400u);
}

TEST(WatermarksTest, Watermarks_AcceptsSeqAboveLowUpToAndIncludingHigh) {
  Watermarks w(10);
  EXPECT_TRUE(w.InWindow(1));
  EXPECT_TRUE(w.InWindow(5));
  EXPECT_TRUE(w.InWindow(10));
}

TEST(WatermarksTest, Watermarks_RejectsSeqAtOrBelowStableCheckpoint) {
  Watermarks w(10);
  EXPECT_FALSE(w.InWindow(0));
  w.Advance(20);
  EXPECT_FALSE(w.InWindow(20));
  EXPECT_FALSE(w.InWindow(19));
  EXPECT_FALSE(w.InWindow(1));
  EXPECT_TRUE(w.InWindow(21));
}

TEST(WatermarksTest, Watermarks_RejectsSeqAboveHigh) {
  Watermarks w(10);
  EXPECT_FALSE(w.InWindow(11));
  w.Advance(20);
  EXPECT_EQ(w.high(), 30u);
  EXPECT_TRUE(w.InWindow(30));
  EXPECT_FALSE(w.InWindow(31));
  EXPECT_FALSE(w.InWindow(std::numeric_limits<uint64_t>::max()));
}

TEST(WatermarksTest, Watermarks_AdvanceNeverMovesBackwards) {
  Watermarks w(10);
  EXPECT_TRUE(w.Advance(20));
  EXPECT_FALSE(w.Advance(10));
  EXPECT_EQ(w.low(), 20u);
  EXPECT_FALSE(w.Advance(20));
  EXPECT_EQ(w.low(), 20u);
  EXPECT_TRUE(w.Advance(30));
  EXPECT_EQ(w.low(), 30u);
  EXPECT_EQ(w.high(), 40u);
}

TEST(WatermarksTest, Watermarks_ZeroWindowAcceptsNothing) {
  Watermarks w(0);
  EXPECT_FALSE(w.InWindow(0));
  EXPECT_FALSE(w.InWindow(1));
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
