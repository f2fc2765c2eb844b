#include "platform/consensus/execution/client_request_verifier.h"

#include <memory>

#include "gtest/gtest.h"
#include "platform/common/crypto/client_identity.h"

namespace resdb {
namespace {

UserRequest Signed(const ClientIdentity& client, uint64_t request_id, const std::string& data) {
  UserRequest request;
  request.set_client_id(client.client_id());
  request.set_request_id(request_id);
  request.set_data(data);
  request.set_client_public_key(client.public_key());
  request.set_client_signature(client.Sign(request_id, data));
  return request;
}

class ClientRequestVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = ClientIdentity::Generate();
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }
  std::unique_ptr<ClientIdentity> client_;
};

TEST_F(ClientRequestVerifierTest, AcceptsSignedRequestsOnly) {
  ClientRequestVerifier verifier;
  UserRequest request = Signed(*client_, 3, "set a 1");
  EXPECT_TRUE(verifier.Verify(request));
  UserRequest unsigned_request = request;
  unsigned_request.clear_client_signature();
  unsigned_request.set_request_id(4);
  EXPECT_FALSE(verifier.Verify(unsigned_request));
  // A replica that alters a verified request's payload or id gets nowhere, cache or not.
  UserRequest altered = request;
  altered.set_data("set a 2");
  EXPECT_FALSE(verifier.Verify(altered));
  altered = request;
  altered.set_request_id(4);
  EXPECT_FALSE(verifier.Verify(altered));
}

// A primary's batch verifies only if every request in it does.
TEST_F(ClientRequestVerifierTest, BatchWithOneForgedRequestFails) {
  ClientRequestVerifier verifier;
  BatchUserRequest batch;
  *batch.add_requests() = Signed(*client_, 1, "set a 1");
  *batch.add_requests() = Signed(*client_, 2, "set b 1");
  EXPECT_TRUE(verifier.VerifyBatch(batch.SerializeAsString()));
  EXPECT_TRUE(verifier.VerifyBatch(""));
  UserRequest* forged = batch.add_requests();
  *forged = Signed(*client_, 3, "set c 1");
  forged->set_data("set c 666");
  EXPECT_FALSE(verifier.VerifyBatch(batch.SerializeAsString()));
  EXPECT_FALSE(verifier.VerifyBatch("\xff\xff not a batch"));
}

// What a replica checks before the protocol sees a message: only PRE_PREPAREs propose a batch.
TEST_F(ClientRequestVerifierTest, ProposedBatchMustBeSigned) {
  ClientRequestVerifier verifier;
  BatchUserRequest batch;
  *batch.add_requests() = Signed(*client_, 1, "set a 1");
  Request pre_prepare;
  pre_prepare.set_type(Request::TYPE_PRE_PREPARE);
  pre_prepare.set_data(batch.SerializeAsString());
  EXPECT_TRUE(verifier.VerifyProposedBatch(pre_prepare));

  batch.mutable_requests(0)->set_data("set a 2");
  pre_prepare.set_data(batch.SerializeAsString());
  EXPECT_FALSE(verifier.VerifyProposedBatch(pre_prepare));

  // The same bytes in a message that proposes nothing are not a batch to check.
  Request prepare = pre_prepare;
  prepare.set_type(Request::TYPE_PREPARE);
  EXPECT_TRUE(verifier.VerifyProposedBatch(prepare));
}

TEST_F(ClientRequestVerifierTest, RemembersABoundedNumberOfRequests) {
  ClientRequestVerifier verifier(2);
  for (uint64_t id = 1; id <= 5; ++id) EXPECT_TRUE(verifier.Verify(Signed(*client_, id, "x")));
  // Forgotten or not, a valid request still verifies and a forged one still fails.
  EXPECT_TRUE(verifier.Verify(Signed(*client_, 1, "x")));
  UserRequest forged = Signed(*client_, 1, "x");
  forged.set_data("y");
  EXPECT_FALSE(verifier.Verify(forged));
}

}  // namespace
}  // namespace resdb
