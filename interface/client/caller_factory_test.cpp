#include "interface/client/caller_factory.h"

#include <memory>

#include "gtest/gtest.h"
#include "interface/client/pbft_caller.h"
#include "interface/client/raft_caller.h"

namespace resdb {
namespace {

ResDBConfig ConfigWithProtocol(const std::string& protocol) {
  ResConfigData data;
  data.set_allow_plaintext(true);
  ReplicaInfo* info = data.add_region()->add_replica_info();
  info->set_id(1);
  info->set_ip("127.0.0.1");
  info->set_port(1);
  if (!protocol.empty()) data.set_consensus_protocol(protocol);
  return ResDBConfig(data, 0);
}

TEST(CallerFactoryTest, RaftConfigGetsTheLeaderFollowingCaller) {
  std::unique_ptr<ReplicaCaller> caller = NewReplicaCaller(ConfigWithProtocol(kProtocolRaft));
  EXPECT_NE(dynamic_cast<RaftCaller*>(caller.get()), nullptr);
}

TEST(CallerFactoryTest, PbftConfigGetsTheAgreementCaller) {
  std::unique_ptr<ReplicaCaller> caller = NewReplicaCaller(ConfigWithProtocol(kProtocolPbft));
  EXPECT_NE(dynamic_cast<PbftCaller*>(caller.get()), nullptr);
}

TEST(CallerFactoryTest, ConfigWithoutProtocolMeansPbft) {
  std::unique_ptr<ReplicaCaller> caller = NewReplicaCaller(ConfigWithProtocol(""));
  EXPECT_NE(dynamic_cast<PbftCaller*>(caller.get()), nullptr);
}

TEST(CallerFactoryTest, ClientIdsAreNonZero) {
  EXPECT_NE(NewReplicaCaller(ConfigWithProtocol(kProtocolRaft))->client_id(), 0u);
  EXPECT_NE(NewReplicaCaller(ConfigWithProtocol(kProtocolPbft))->client_id(), 0u);
}

}  // namespace
}  // namespace resdb
