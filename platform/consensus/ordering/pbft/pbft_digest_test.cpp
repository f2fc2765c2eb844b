#include "platform/consensus/ordering/pbft/pbft_digest.h"

#include <gtest/gtest.h>

#include "platform/common/crypto/signature.h"

namespace resdb {
namespace pbft {
namespace {

std::string SerializedBatch(const std::string& payload) {
  BatchUserRequest batch;
  UserRequest* request = batch.add_requests();
  request->set_data(payload);
  request->set_client_id(7);
  request->set_request_id(1);
  std::string out;
  batch.SerializeToString(&out);
  return out;
}

Request PrePrepare(const std::string& data, const std::string& hash) {
  Request request;
  request.set_type(Request::TYPE_PRE_PREPARE);
  request.set_data(data);
  request.set_hash(hash);
  return request;
}

TEST(PbftDigestTest, Digest_IsSha256OfSerializedBatch) {
  const std::string data = SerializedBatch("set k v");
  EXPECT_EQ(BatchDigest(data), Sha256(data));
  EXPECT_EQ(BatchDigest(data).size(), 32u);
}

TEST(PbftDigestTest, Digest_IsKnownValueForEmptyInput) {
  EXPECT_EQ(ToHex(BatchDigest("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(PbftDigestTest, Digest_DiffersForDifferentBatches) {
  EXPECT_NE(BatchDigest(SerializedBatch("a")), BatchDigest(SerializedBatch("b")));
}

TEST(PbftDigestTest, DigestMatches_AcceptsHashOfData) {
  const std::string data = SerializedBatch("set k v");
  EXPECT_TRUE(DigestMatches(PrePrepare(data, BatchDigest(data))));
}

TEST(PbftDigestTest, DigestMatches_RejectsHashOfOtherBatch) {
  const std::string data = SerializedBatch("set k v");
  EXPECT_FALSE(DigestMatches(PrePrepare(data, BatchDigest(SerializedBatch("set k w")))));
}

TEST(PbftDigestTest, DigestMatches_RejectsMissingHash) {
  EXPECT_FALSE(DigestMatches(PrePrepare(SerializedBatch("set k v"), "")));
  // Even an empty batch must carry its digest.
  EXPECT_FALSE(DigestMatches(PrePrepare("", "")));
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
