#include "platform/consensus/ordering/pbft/simulation/pbft_invariants.h"

#include <gtest/gtest.h>

#include <string>

#include "platform/consensus/ordering/pbft/simulation/pbft_sim_clients.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {
namespace simulation {
namespace {

class PbftInvariantsTest : public testing::Test {
 protected:
  void SetUp() override {
    a_ = clients_.proposals()[clients_.Create(0, 2)].data;
    b_ = clients_.proposals()[clients_.Create(0, 1)].data;
    for (int64_t id : {1, 2, 3, 4}) invariants_.OnStart(id, 0);
  }

  PbftSimClients clients_{40};
  PbftInvariants invariants_{&clients_};
  std::string a_;
  std::string b_;
};

TEST_F(PbftInvariantsTest, AcceptsAgreeingReleasesAndNoOps) {
  invariants_.OnRelease(1, 1, a_);
  invariants_.OnRelease(2, 1, a_);
  invariants_.OnRelease(1, 2, "");
  invariants_.OnRelease(2, 2, "");
  invariants_.OnRelease(1, 3, a_);  // a client retry executing again
  invariants_.OnExecuted(1, 3, "d3");
  invariants_.OnExecuted(2, 3, "d3");
  invariants_.OnStable(2, 3, "d3");
  EXPECT_TRUE(invariants_.ok()) << invariants_.violation();
  EXPECT_EQ(invariants_.max_released(), 3u);
  EXPECT_EQ(invariants_.empty_batches(), 1u);
}

TEST_F(PbftInvariantsTest, DetectsDisagreement) {
  invariants_.OnRelease(1, 1, a_);
  invariants_.OnRelease(3, 1, b_);
  EXPECT_NE(invariants_.violation().find("agreement"), std::string::npos);
}

TEST_F(PbftInvariantsTest, DetectsGapsAndRepeats) {
  invariants_.OnRelease(1, 2, a_);
  EXPECT_NE(invariants_.violation().find("a gap"), std::string::npos);

  PbftInvariants again(&clients_);
  again.OnStart(1, 1);
  again.OnRelease(1, 1, a_);
  EXPECT_NE(again.violation().find("released twice"), std::string::npos);
}

TEST_F(PbftInvariantsTest, DetectsBatchesNoClientProposed) {
  BatchUserRequest forged;
  forged.add_requests()->set_request_id(999);
  invariants_.OnRelease(1, 1, forged.SerializeAsString());
  EXPECT_NE(invariants_.violation().find("validity"), std::string::npos);
}

// What a primary could forge if replicas did not check client signatures: a client's request
// with another payload, and a request in a client's name with an id it has not used yet.
TEST_F(PbftInvariantsTest, DetectsRequestsNoClientIssued) {
  BatchUserRequest genuine;
  ASSERT_TRUE(genuine.ParseFromString(a_));
  BatchUserRequest altered = genuine;
  altered.mutable_requests(1)->set_data("set k1 forged");
  invariants_.OnRelease(1, 1, altered.SerializeAsString());
  EXPECT_NE(
      invariants_.violation().find("request " + std::to_string(genuine.requests(1).request_id())),
      std::string::npos)
      << invariants_.violation();

  PbftInvariants ahead(&clients_);
  ahead.OnStart(1, 0);
  const size_t victim = 0;
  BatchUserRequest forged;
  UserRequest* request = forged.add_requests();
  request->set_client_id(clients_.client(victim).client_id());
  request->set_request_id(clients_.NextRequestIdOf(victim));
  request->set_data("set k1 forged");
  ahead.OnRelease(1, 1, forged.SerializeAsString());
  EXPECT_NE(ahead.violation().find("never issued"), std::string::npos) << ahead.violation();

  // A genuine request under another client's id is not that client's request either.
  PbftInvariants moved(&clients_);
  moved.OnStart(1, 0);
  BatchUserRequest renamed = genuine;
  renamed.mutable_requests(0)->set_client_id(genuine.requests(0).client_id() + 1);
  moved.OnRelease(1, 1, renamed.SerializeAsString());
  EXPECT_NE(moved.violation().find("validity"), std::string::npos);
}

TEST_F(PbftInvariantsTest, DetectsDivergentStateAndCheckpoints) {
  invariants_.OnExecuted(1, 10, "x");
  invariants_.OnExecuted(2, 10, "y");
  EXPECT_NE(invariants_.violation().find("state"), std::string::npos);

  PbftInvariants stable(&clients_);
  stable.OnExecuted(1, 10, "x");
  stable.OnStable(2, 10, "z");
  EXPECT_NE(stable.violation().find("checkpoint"), std::string::npos);
}

}  // namespace
}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
