#include "platform/consensus/execution/state_digest.h"

#include <gtest/gtest.h>

#include <memory>

#include "platform/storage/memory_storage.h"

namespace resdb {
namespace {

BatchUserResponse Responses(std::initializer_list<const char*> responses) {
  BatchUserResponse batch;
  for (const char* response : responses) batch.add_responses(response);
  return batch;
}

TEST(StateDigestTest, SameBatchesSameDigestAndItSurvivesAReload) {
  std::unique_ptr<Storage> storage = NewMemoryStorage();
  StateDigest a;
  StateDigest b;
  ASSERT_TRUE(a.Load(storage.get()).ok());
  EXPECT_EQ(a.value(), "");
  WriteBatch batch;
  a.Extend(Responses({"ok", "v1"}), &batch);
  a.Extend(Responses({}), &batch);
  WriteBatch ignored;
  b.Extend(Responses({"ok", "v1"}), &ignored);
  b.Extend(Responses({}), &ignored);
  EXPECT_EQ(a.value(), b.value());
  EXPECT_EQ(a.value().size(), 32u);

  ASSERT_TRUE(storage->Write(batch, /*sync=*/false).ok());
  StateDigest reloaded;
  ASSERT_TRUE(reloaded.Load(storage.get()).ok());
  EXPECT_EQ(reloaded.value(), a.value());
}

TEST(StateDigestTest, ADifferentResultOrOrderGivesADifferentDigest) {
  StateDigest a;
  StateDigest b;
  StateDigest c;
  WriteBatch ignored;
  a.Extend(Responses({"x"}), &ignored);
  a.Extend(Responses({"y"}), &ignored);
  b.Extend(Responses({"y"}), &ignored);
  b.Extend(Responses({"x"}), &ignored);
  c.Extend(Responses({"x"}), &ignored);
  c.Extend(Responses({"z"}), &ignored);
  EXPECT_NE(a.value(), b.value());
  EXPECT_NE(a.value(), c.value());
}

}  // namespace
}  // namespace resdb
