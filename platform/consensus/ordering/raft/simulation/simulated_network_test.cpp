#include "platform/consensus/ordering/raft/simulation/simulated_network.h"

#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace raft {
namespace {

RaftMessage Heartbeat(int64_t from, int64_t to, uint64_t term) {
  AppendEntriesRequest req;
  req.set_term(term);
  req.set_leader_id(from);
  return RaftMessage::Make(from, to, req);
}

uint64_t TermOf(const RaftMessage& m) { return std::get<AppendEntriesRequest>(m.payload).term(); }

TEST(SimulatedNetworkTest, DeliversWithinTheDelayBoundsInTimeOrder) {
  SimulatedNetwork net(7);
  net.set_options(NetworkOptions{5, 20});
  for (uint64_t i = 0; i < 100; ++i) net.Send(Heartbeat(1, 2, i), 100);
  EXPECT_FALSE(net.PopDue(104).has_value());
  int64_t last = 0;
  int delivered = 0;
  bool reordered = false;
  uint64_t prev_term = 0;
  while (auto due = net.PopDue(120)) {
    EXPECT_GE(due->first, 105);
    EXPECT_LE(due->first, 120);
    EXPECT_GE(due->first, last);
    last = due->first;
    if (delivered > 0 && TermOf(due->second) < prev_term) reordered = true;
    prev_term = TermOf(due->second);
    ++delivered;
  }
  EXPECT_EQ(delivered, 100);
  EXPECT_TRUE(reordered);
}

TEST(SimulatedNetworkTest, CutLinksAreDirected) {
  SimulatedNetwork net(1);
  net.CutLink(1, 2);
  net.Send(Heartbeat(1, 2, 1), 0);
  net.Send(Heartbeat(2, 1, 2), 0);
  auto due = net.PopDue(1000);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->second.from, 2);
  EXPECT_FALSE(net.PopDue(1000).has_value());
  EXPECT_EQ(net.stats().cut, 1u);
}

TEST(SimulatedNetworkTest, PartitionCutsBetweenGroupsOnly) {
  SimulatedNetwork net(1);
  const std::vector<int64_t> all = {1, 2, 3};
  net.Partition({{1, 2}, {3}}, all);
  EXPECT_TRUE(net.LinkUp(1, 2));
  EXPECT_TRUE(net.LinkUp(2, 1));
  EXPECT_FALSE(net.LinkUp(1, 3));
  EXPECT_FALSE(net.LinkUp(3, 2));
  net.HealLinks();
  EXPECT_TRUE(net.LinkUp(3, 2));
  net.Isolate(2, all);
  EXPECT_FALSE(net.LinkUp(2, 1));
  EXPECT_FALSE(net.LinkUp(3, 2));
  EXPECT_TRUE(net.LinkUp(1, 3));
}

TEST(SimulatedNetworkTest, DropsAndDuplicatesFollowTheRates) {
  SimulatedNetwork net(3);
  net.set_options(NetworkOptions{1, 1, 0.0, 0, 0.25, 0.25});
  for (int i = 0; i < 4000; ++i) net.Send(Heartbeat(1, 2, 1), 0);
  EXPECT_NEAR(static_cast<double>(net.stats().dropped), 1000, 150);
  // Only messages that survive the drop are duplicated.
  EXPECT_NEAR(static_cast<double>(net.stats().duplicated), 750, 150);
  EXPECT_EQ(net.in_flight(), 4000 - net.stats().dropped + net.stats().duplicated);
}

TEST(SimulatedNetworkTest, LongDelaysHoldMessagesBack) {
  SimulatedNetwork net(9);
  net.set_options(NetworkOptions{1, 10, 0.5, 1000});
  for (int i = 0; i < 200; ++i) net.Send(Heartbeat(1, 2, 1), 0);
  int late = 0;
  while (auto due = net.PopDue(2000)) {
    EXPECT_LE(due->first, 1000);
    if (due->first > 10) ++late;
  }
  EXPECT_EQ(static_cast<uint64_t>(late) <= net.stats().long_delayed, true);
  EXPECT_GT(late, 50);
}

TEST(SimulatedNetworkTest, SameSeedSameSchedule) {
  auto schedule = [](uint64_t seed) {
    SimulatedNetwork net(seed);
    net.set_options(NetworkOptions{1, 50, 0.1, 500, 0.1, 0.1});
    for (uint64_t i = 0; i < 50; ++i) net.Send(Heartbeat(1, 2, i), 0);
    std::vector<std::pair<int64_t, uint64_t>> out;
    while (auto due = net.PopDue(1000)) out.emplace_back(due->first, TermOf(due->second));
    return out;
  };
  EXPECT_EQ(schedule(5), schedule(5));
  EXPECT_NE(schedule(5), schedule(6));
}

}  // namespace
}  // namespace raft
}  // namespace resdb
