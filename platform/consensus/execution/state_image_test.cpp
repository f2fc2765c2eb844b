#include "platform/consensus/execution/state_image.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/scoped_temp_dir.h"

namespace resdb {
namespace {

using Pairs = std::map<std::string, std::string>;

const std::vector<std::string> kPrefixes = {"data_", "table_"};

Pairs All(Storage* storage) {
  Pairs out;
  EXPECT_TRUE(storage
                  ->Scan("", "",
                         [&](absl::string_view key, absl::string_view value) {
                           out.emplace(std::string(key), std::string(value));
                           return true;
                         })
                  .ok());
  return out;
}

void PutAll(Storage* storage, const Pairs& pairs) {
  WriteBatch batch;
  for (const auto& [key, value] : pairs) batch.Put(key, value);
  ASSERT_TRUE(storage->Write(batch, false).ok());
}

TEST(StateImageTest, InstallReplacesTheStateRangesAndNothingElse) {
  ScopedTempDir dir;
  auto source = OpenLevelDBStorage(dir.path() + "/source");
  ASSERT_TRUE(source.ok()) << source.status();
  PutAll(source->get(), {{"data_a", "1"},
                         {"data_b", std::string("\0\xff", 2)},
                         {"table_x", ""},
                         {"log_7", "not state"}});
  std::unique_ptr<StorageSnapshot> snapshot = (*source)->NewSnapshot();
  // Writes after the snapshot are not in the image.
  PutAll(source->get(), {{"data_a", "changed"}, {"data_c", "late"}});
  absl::StatusOr<std::string> image = EncodeStateImage(*snapshot, kPrefixes);
  ASSERT_TRUE(image.ok()) << image.status();

  std::unique_ptr<Storage> target = NewMemoryStorage();
  PutAll(target.get(), {{"data_a", "old"}, {"data_z", "gone"}, {"log_1", "kept"}, {"zz", "kept"}});
  ASSERT_TRUE(InstallStateImage(target.get(), kPrefixes, *image, /*sync=*/true).ok());
  EXPECT_EQ(All(target.get()), (Pairs{{"data_a", "1"},
                                      {"data_b", std::string("\0\xff", 2)},
                                      {"log_1", "kept"},
                                      {"table_x", ""},
                                      {"zz", "kept"}}));
}

TEST(StateImageTest, AnEmptyStateEmptiesTheRanges) {
  std::unique_ptr<Storage> source = NewMemoryStorage();
  absl::StatusOr<std::string> image = EncodeStateImage(*source->NewSnapshot(), kPrefixes);
  ASSERT_TRUE(image.ok());
  std::unique_ptr<Storage> target = NewMemoryStorage();
  PutAll(target.get(), {{"data_a", "old"}, {"other", "kept"}});
  ASSERT_TRUE(InstallStateImage(target.get(), kPrefixes, *image, false).ok());
  EXPECT_EQ(All(target.get()), (Pairs{{"other", "kept"}}));
}

TEST(StateImageTest, DamagedImagesAreRefusedAndChangeNothing) {
  std::unique_ptr<Storage> source = NewMemoryStorage();
  PutAll(source.get(), {{"data_a", "1"}, {"data_b", "2"}});
  absl::StatusOr<std::string> image = EncodeStateImage(*source->NewSnapshot(), kPrefixes);
  ASSERT_TRUE(image.ok());
  std::unique_ptr<Storage> outside = NewMemoryStorage();
  PutAll(outside.get(), {{"log_1", "x"}});
  absl::StatusOr<std::string> outside_image = EncodeStateImage(*outside->NewSnapshot(), {"log_"});
  ASSERT_TRUE(outside_image.ok());

  const std::vector<std::string> damaged = {
      "",
      "XSI1",
      image->substr(0, image->size() - 1),  // truncated value
      image->substr(0, 4 + 3),              // truncated size
      *image + std::string(8, '\xff'),      // a size far past the end
      *outside_image,                       // a key outside the state
  };
  for (size_t i = 0; i < damaged.size(); ++i) {
    std::unique_ptr<Storage> target = NewMemoryStorage();
    PutAll(target.get(), {{"data_a", "old"}});
    absl::Status status = InstallStateImage(target.get(), kPrefixes, damaged[i], false);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << "image " << i << ": " << status;
    EXPECT_EQ(All(target.get()), (Pairs{{"data_a", "old"}})) << "image " << i;
  }
}

}  // namespace
}  // namespace resdb
