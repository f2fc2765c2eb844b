#include "platform/storage/staged_storage.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "platform/storage/memory_storage.h"

namespace resdb {
namespace {

std::vector<std::pair<std::string, std::string>> All(Storage& storage, absl::string_view begin = "",
                                                     absl::string_view end = "") {
  auto range = storage.GetRange(begin, end);
  EXPECT_TRUE(range.ok()) << range.status();
  return range.ok() ? *range : std::vector<std::pair<std::string, std::string>>{};
}

TEST(StagedStorageTest, WritesAreSeenButHeldBackUntilCommitted) {
  std::unique_ptr<Storage> memory = NewMemoryStorage();
  Storage& base = *memory;
  ASSERT_TRUE(base.Put("a", "1").ok());
  ASSERT_TRUE(base.Put("c", "3").ok());
  StagedStorage staged(&base);
  ASSERT_TRUE(staged.Put("b", "2").ok());
  ASSERT_TRUE(staged.Put("c", "33").ok());
  ASSERT_TRUE(staged.Delete("a").ok());
  ASSERT_TRUE(staged.Put("d", "4").ok());

  EXPECT_TRUE(absl::IsNotFound(staged.Get("a").status()));
  EXPECT_EQ(*staged.Get("c"), "33");
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(All(staged), (Pairs{{"b", "2"}, {"c", "33"}, {"d", "4"}}));
  EXPECT_EQ(All(staged, "b", "d"), (Pairs{{"b", "2"}, {"c", "33"}}));
  // Nothing reached the base yet.
  EXPECT_EQ(All(base), (Pairs{{"a", "1"}, {"c", "3"}}));
  EXPECT_TRUE(staged.HasStaged());

  WriteBatch seen;
  ASSERT_TRUE(staged
                  .Commit([&](const WriteBatch& batch) {
                    seen = batch;
                    return base.Write(batch, /*sync=*/false);
                  })
                  .ok());
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_FALSE(staged.HasStaged());
  EXPECT_EQ(All(base), (Pairs{{"b", "2"}, {"c", "33"}, {"d", "4"}}));
  EXPECT_EQ(All(staged), All(base));
}

TEST(StagedStorageTest, ScanStopsWhenTheVisitorSaysSoInEitherSource) {
  std::unique_ptr<Storage> memory = NewMemoryStorage();
  Storage& base = *memory;
  for (const char* key : {"a", "c", "e"}) ASSERT_TRUE(base.Put(key, "base").ok());
  StagedStorage staged(&base);
  for (const char* key : {"b", "d", "f"}) ASSERT_TRUE(staged.Put(key, "staged").ok());
  for (size_t limit = 1; limit <= 6; ++limit) {
    std::string order;
    ASSERT_TRUE(staged
                    .Scan("", "",
                          [&](absl::string_view key, absl::string_view) {
                            order += std::string(key);
                            return order.size() < limit;
                          })
                    .ok());
    EXPECT_EQ(order, std::string("abcdef").substr(0, limit));
  }
}

TEST(StagedStorageTest, VersionedWritesBuildOnHeldBackVersions) {
  std::unique_ptr<Storage> memory = NewMemoryStorage();
  Storage& base = *memory;
  StagedStorage staged(&base);
  ASSERT_EQ(*staged.SetWithVersion("k", "v1", 0), 1u);
  ASSERT_EQ(*staged.SetWithVersion("k", "v2", 1), 2u);
  EXPECT_TRUE(absl::IsFailedPrecondition(staged.SetWithVersion("k", "x", 1).status()));
  EXPECT_TRUE(absl::IsNotFound(base.GetWithVersion("k").status()));
  ASSERT_TRUE(
      staged.Commit([&](const WriteBatch& batch) { return base.Write(batch, false); }).ok());
  auto latest = base.GetWithVersion("k");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->value, "v2");
  EXPECT_EQ(latest->version, 2u);
}

TEST(StagedStorageTest, AFailedCommitDropsTheWritesAndSaysWhy) {
  std::unique_ptr<Storage> memory = NewMemoryStorage();
  Storage& base = *memory;
  StagedStorage staged(&base);
  ASSERT_TRUE(staged.Put("k", "v").ok());
  absl::Status failed =
      staged.Commit([](const WriteBatch&) { return absl::InternalError("disk full"); });
  EXPECT_EQ(failed.message(), "disk full");
  EXPECT_FALSE(staged.HasStaged());
  EXPECT_TRUE(absl::IsNotFound(staged.Get("k").status()));
}

}  // namespace
}  // namespace resdb
