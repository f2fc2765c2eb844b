#include "platform/common/crypto/client_identity.h"

#include "gtest/gtest.h"

namespace resdb {
namespace {

TEST(ClientIdentityTest, SignedRequestVerifiesOnlyAsSigned) {
  auto client = ClientIdentity::Generate();
  ASSERT_TRUE(client.ok()) << client.status();
  const ClientIdentity& id = **client;
  ASSERT_EQ(id.public_key().size(), 32u);
  EXPECT_EQ(id.client_id(), ClientIdOf(id.public_key()));
  const std::string signature = id.Sign(7, "set a 1");
  EXPECT_TRUE(VerifyClientRequest(id.client_id(), 7, "set a 1", id.public_key(), signature));
  // Another payload, request id or client id, a missing or damaged signature.
  EXPECT_FALSE(VerifyClientRequest(id.client_id(), 7, "set a 2", id.public_key(), signature));
  EXPECT_FALSE(VerifyClientRequest(id.client_id(), 8, "set a 1", id.public_key(), signature));
  EXPECT_FALSE(VerifyClientRequest(id.client_id() + 1, 7, "set a 1", id.public_key(), signature));
  EXPECT_FALSE(VerifyClientRequest(id.client_id(), 7, "set a 1", id.public_key(), ""));
  std::string damaged = signature;
  damaged[10] ^= 1;
  EXPECT_FALSE(VerifyClientRequest(id.client_id(), 7, "set a 1", id.public_key(), damaged));
}

// Another key cannot speak for a client: the id follows from the key.
TEST(ClientIdentityTest, AnotherKeyCannotActInAClientsName) {
  auto victim = ClientIdentity::Generate();
  auto forger = ClientIdentity::Generate();
  ASSERT_TRUE(victim.ok() && forger.ok());
  EXPECT_NE((*victim)->client_id(), (*forger)->client_id());
  const std::string forged = (*forger)->Sign(1, "set a 1");
  EXPECT_FALSE(
      VerifyClientRequest((*victim)->client_id(), 1, "set a 1", (*forger)->public_key(), forged));
  EXPECT_FALSE(
      VerifyClientRequest((*victim)->client_id(), 1, "set a 1", (*victim)->public_key(), forged));
}

// A seeded identity is the same in every run, and different seeds are different clients.
TEST(ClientIdentityTest, SeededIdentitiesRepeat) {
  const std::string seed(32, 'a');
  auto first = ClientIdentity::FromSeed(seed);
  auto again = ClientIdentity::FromSeed(seed);
  auto other = ClientIdentity::FromSeed(std::string(32, 'b'));
  ASSERT_TRUE(first.ok() && again.ok() && other.ok()) << first.status();
  EXPECT_EQ((*first)->public_key(), (*again)->public_key());
  EXPECT_EQ((*first)->Sign(1, "set a 1"), (*again)->Sign(1, "set a 1"));
  EXPECT_NE((*first)->client_id(), (*other)->client_id());
  EXPECT_TRUE(VerifyClientRequest((*first)->client_id(), 1, "set a 1", (*again)->public_key(),
                                  (*first)->Sign(1, "set a 1")));
  EXPECT_FALSE(ClientIdentity::FromSeed("short").ok());
}

}  // namespace
}  // namespace resdb
