#include "platform/storage/leveldb_storage.h"

#include <fstream>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/storage/scoped_temp_dir.h"

namespace resdb {
namespace {

using ::testing::HasSubstr;

TEST(LevelDBStorageTest, DataSurvivesCloseAndReopen) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/db";
  {
    absl::StatusOr<std::unique_ptr<Storage>> storage = OpenLevelDBStorage(path);
    ASSERT_TRUE(storage.ok()) << storage.status();
    ASSERT_TRUE((*storage)->Put("plain", "kept", /*sync=*/true).ok());
    ASSERT_TRUE((*storage)->Put("deleted", "x").ok());
    ASSERT_TRUE((*storage)->Delete("deleted").ok());
    ASSERT_TRUE((*storage)->SetWithVersion("versioned", "v1", 0).ok());
    ASSERT_TRUE((*storage)->SetWithVersion("versioned", "v2", 1).ok());
    ASSERT_TRUE((*storage)->Flush().ok());
  }

  absl::StatusOr<std::unique_ptr<Storage>> reopened = OpenLevelDBStorage(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Get("plain").value_or(""), "kept");
  EXPECT_TRUE(absl::IsNotFound((*reopened)->Get("deleted").status()));
  absl::StatusOr<VersionedValue> latest = (*reopened)->GetWithVersion("versioned");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->version, 2u);
  EXPECT_EQ(latest->value, "v2");
  EXPECT_EQ((*reopened)->GetWithVersion("versioned", 1)->value, "v1");
  // The version counter continues where it was.
  EXPECT_TRUE(
      absl::IsFailedPrecondition((*reopened)->SetWithVersion("versioned", "x", 1).status()));
  EXPECT_EQ((*reopened)->SetWithVersion("versioned", "v3", 2).value_or(0), 3u);
}

TEST(LevelDBStorageTest, OpeningAnOpenDatabaseFailsNamingThePath) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/db";
  absl::StatusOr<std::unique_ptr<Storage>> first = OpenLevelDBStorage(path);
  ASSERT_TRUE(first.ok()) << first.status();

  absl::StatusOr<std::unique_ptr<Storage>> second = OpenLevelDBStorage(path);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr(path));
  EXPECT_THAT(second.status().message(), HasSubstr("lock"));

  // The first handle is unaffected.
  EXPECT_TRUE((*first)->Put("k", "v").ok());
  EXPECT_EQ((*first)->Get("k").value_or(""), "v");
}

TEST(LevelDBStorageTest, OpeningARegularFileFails) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/not_a_directory";
  std::ofstream(path) << "plain file";

  absl::StatusOr<std::unique_ptr<Storage>> storage = OpenLevelDBStorage(path);
  ASSERT_FALSE(storage.ok());
  EXPECT_THAT(storage.status().message(), HasSubstr(path));
}

TEST(LevelDBStorageTest, MissingDirectoryFailsWithoutCreateIfMissing) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/absent";
  LevelDBOptions options;
  options.create_if_missing = false;

  absl::StatusOr<std::unique_ptr<Storage>> storage = OpenLevelDBStorage(path, options);
  ASSERT_FALSE(storage.ok());
  EXPECT_THAT(storage.status().message(), HasSubstr(path));
  EXPECT_FALSE(OpenLevelDBStorage(path, options).ok()) << "a failed open must not create it";
}

TEST(LevelDBStorageTest, SmallBuffersStillStoreLargeData) {
  ScopedTempDir dir;
  LevelDBOptions options;
  options.block_cache_bytes = 1 << 16;
  options.write_buffer_bytes = 1 << 16;
  absl::StatusOr<std::unique_ptr<Storage>> storage =
      OpenLevelDBStorage(dir.path() + "/db", options);
  ASSERT_TRUE(storage.ok()) << storage.status();
  const std::string value(4096, 'x');
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*storage)->Put("key" + std::to_string(1000 + i), value).ok());
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> all =
      (*storage)->GetRange("", "");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 200u);
  EXPECT_EQ((*storage)->Get("key1100").value_or(""), value);
}

}  // namespace
}  // namespace resdb
