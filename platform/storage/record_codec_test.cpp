#include "platform/storage/record_codec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace {

using ::testing::HasSubstr;

TEST(RecordCodecTest, IndexKeysSortByIndex) {
  EXPECT_EQ(IndexKey("e", 0x0102030405060708ull), std::string("e\x01\x02\x03\x04\x05\x06\x07\x08"));
  EXPECT_LT(IndexKey("e", 255), IndexKey("e", 256));
  EXPECT_LT(IndexKey("e", 1), IndexKey("e", 0xffffffffffffffffull));
  uint64_t index = 0;
  EXPECT_TRUE(ParseIndexKey(IndexKey("e", 12345), "e", &index));
  EXPECT_EQ(index, 12345u);
  EXPECT_FALSE(ParseIndexKey(IndexKey("e", 1), "a", &index));
  EXPECT_FALSE(ParseIndexKey("e123", "e", &index));
  EXPECT_EQ(index, 12345u);
}

TEST(RecordCodecTest, Crc32cMatchesKnownValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(RecordCodecTest, RecordRoundTripAndDamage) {
  Request entry;
  entry.set_request_id(7);
  entry.set_client_id(3);
  entry.set_data("payload");
  std::string record = EncodeMessageRecord(entry);
  Request decoded;
  ASSERT_TRUE(DecodeMessageRecord("Test", "k", record, &decoded).ok());
  EXPECT_EQ(decoded.SerializeAsString(), entry.SerializeAsString());

  for (size_t i = 0; i < record.size(); ++i) {
    std::string damaged = record;
    damaged[i] ^= 0x01;
    absl::Status status = DecodeMessageRecord("Test", std::string("k\x01", 2), damaged, &decoded);
    EXPECT_TRUE(absl::IsDataLoss(status)) << i;
    EXPECT_THAT(status.message(), HasSubstr("Test: corrupt record at key \"k\\x01\"")) << i;
  }
  EXPECT_TRUE(absl::IsDataLoss(UnsealRecord("Test", "k", "abc").status()));
  EXPECT_EQ(UnsealRecord("Test", "k", SealRecord("")).value_or("x"), "");
}

}  // namespace
}  // namespace resdb
