#include "platform/consensus/ordering/raft/raft_config.h"

#include "gtest/gtest.h"

namespace resdb {
namespace raft {
namespace {

ResDBConfig MakeConfig(bool join = false) {
  ResConfigData data;
  data.set_allow_plaintext(true);
  for (int id = 1; id <= 3; ++id) {
    ReplicaInfo* replica =
        (data.region_size() == 0 ? data.add_region() : data.mutable_region(0))->add_replica_info();
    replica->set_id(id);
    replica->set_ip("127.0.0.1");
    replica->set_port(20000 + id);
  }
  RaftConfig* rc = data.mutable_raft_config();
  rc->set_heartbeat_interval_ms(50);
  rc->set_election_timeout_min_ms(300);
  rc->set_election_timeout_max_ms(600);
  rc->set_max_entries_per_append(64);
  rc->set_join_existing_cluster(join);
  return ResDBConfig(data, 2);
}

TEST(RaftConfigTest, NodeOptionsCountTimeoutsInHeartbeatTicks) {
  const RaftNodeOptions options = NodeOptionsFrom(MakeConfig(), 7);
  EXPECT_EQ(Tick(MakeConfig()).count(), 50);
  EXPECT_EQ(options.id, 2);
  EXPECT_EQ(options.voters, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(options.election_ticks_min, 6);
  EXPECT_EQ(options.election_ticks_max, 12);
  EXPECT_EQ(options.heartbeat_ticks, 1);
  EXPECT_EQ(options.max_entries_per_append, 64u);
  EXPECT_EQ(options.seed, 7u);
}

TEST(RaftConfigTest, AJoiningReplicaStartsWithoutVoters) {
  EXPECT_TRUE(NodeOptionsFrom(MakeConfig(/*join=*/true), 1).voters.empty());
}

TEST(RaftConfigTest, ElectionTicksStayAboveOneHeartbeat) {
  ResDBConfig config = MakeConfig();
  ResConfigData data = config.GetConfigData();
  data.mutable_raft_config()->set_election_timeout_min_ms(10);
  data.mutable_raft_config()->set_election_timeout_max_ms(10);
  const RaftNodeOptions options = NodeOptionsFrom(ResDBConfig(data, 2), 1);
  EXPECT_EQ(options.election_ticks_min, 2);
  EXPECT_EQ(options.election_ticks_max, 2);
}

TEST(RaftConfigTest, SnapshotResendFollowsTheElectionTimeout) {
  const SnapshotSender::Options options = SenderOptionsFrom(MakeConfig());
  EXPECT_EQ(options.self_id, 2);
  EXPECT_EQ(options.resend.count(), 600);
  EXPECT_EQ(options.install_patience.count(), 10000);
  EXPECT_EQ(TransferTimeout(MakeConfig()).count(), 1800);
  EXPECT_EQ(ForwardRetry(MakeConfig()).count(), 1200);
}

TEST(RaftConfigTest, MembershipKnowsTheConfigFilesReplicas) {
  const MembershipCoordinator::Options options = MembershipOptionsFrom(MakeConfig());
  ASSERT_EQ(options.configured.size(), 3u);
  EXPECT_EQ(options.configured.at(3), "127.0.0.1:20003");
  EXPECT_EQ(options.catch_up_slack, 64u);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
