#include "platform/common/fail_stop.h"

#include "gtest/gtest.h"

namespace resdb {
namespace {

TEST(FailStopDeathTest, ExitsWithOneLineNamingTheWriteAndTheError) {
  EXPECT_EXIT(
      FailStop("replica 2: cannot record applied index 7", absl::InternalError("disk full")),
      testing::ExitedWithCode(1),
      "replica 2: cannot record applied index 7: .*disk full; stopping the replica");
}

TEST(FailStopDeathTest, GoesOnWhenTheWriteSucceeded) {
  FailStopIfError("replica 2: cannot record applied index 7", absl::OkStatus());
  EXPECT_EXIT(FailStopIfError("replica 2: cannot append", absl::DataLossError("bad block")),
              testing::ExitedWithCode(1), "replica 2: cannot append: .*bad block");
}

}  // namespace
}  // namespace resdb
