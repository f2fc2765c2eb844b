#include "platform/consensus/ordering/pbft/replica_config.h"

#include <limits>

#include "gtest/gtest.h"

namespace resdb {
namespace pbft {
namespace {

ResDBConfig MakeConfig(int heartbeat_ms, int view_change_ms, bool enable_view_change = true) {
  ResConfigData data;
  data.set_allow_plaintext(true);
  data.set_heartbeat_interval_ms(heartbeat_ms);
  data.mutable_pbft_config()->set_view_change_timeout_ms(view_change_ms);
  data.mutable_pbft_config()->set_enable_view_change(enable_view_change);
  data.mutable_pbft_config()->set_checkpoint_interval(50);
  data.mutable_pbft_config()->set_watermark_window(20);
  return ResDBConfig(data, 1);
}

TEST(ReplicaConfigTest, TickIsATenthOfTheViewChangeTimeoutAtMostTheHeartbeat) {
  EXPECT_EQ(TickMs(MakeConfig(100, 3000)), 100);
  EXPECT_EQ(TickMs(MakeConfig(100, 500)), 50);
  EXPECT_EQ(TickMs(MakeConfig(100, 5)), 1);
}

TEST(ReplicaConfigTest, OptionsCountInTicks) {
  PbftReplicaOptions options = OptionsFrom(MakeConfig(100, 3000));
  EXPECT_EQ(options.view_change_timeout_ticks, 30u);
  EXPECT_EQ(options.retransmit_ticks, 10u);
  EXPECT_EQ(options.checkpoint_interval, 50u);
  // The window is never below the checkpoint interval.
  EXPECT_EQ(options.watermark_window, 50u);
  EXPECT_EQ(OptionsFrom(MakeConfig(100, 3000, false)).view_change_timeout_ticks,
            std::numeric_limits<uint64_t>::max());
}

TEST(ReplicaConfigTest, WithoutReplicaKeysEvidenceIsCheckedForFormOnly) {
  ResDBConfig config = MakeConfig(100, 3000);
  EXPECT_FALSE(HasReplicaKeys(config));
  std::unique_ptr<Verifier> keys;
  PbftReplicaOptions options =
      WithEvidenceCheck(OptionsFrom(config), config, &keys, [](absl::string_view) { return ""; });
  EXPECT_FALSE(options.verify_signature);
  EXPECT_FALSE(options.sign);
  auto loaded = LoadReplicaKeys(config);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, nullptr);
}

TEST(ReplicaConfigTest, OnlyPbftMessagesAreProtocolMessages) {
  EXPECT_TRUE(IsProtocolMessage(Request::TYPE_PRE_PREPARE));
  EXPECT_TRUE(IsProtocolMessage(Request::TYPE_NEWVIEW));
  EXPECT_FALSE(IsProtocolMessage(Request::TYPE_CLIENT_REQUEST));
  EXPECT_FALSE(IsProtocolMessage(Request::TYPE_CUSTOM_QUERY));
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
