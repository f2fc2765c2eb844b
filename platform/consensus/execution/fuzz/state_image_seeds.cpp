#include <memory>

#include "platform/common/fuzz/seeds.h"
#include "platform/consensus/execution/state_image.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace fuzz {
namespace {

std::string Image() {
  std::unique_ptr<Storage> storage = NewMemoryStorage();
  storage->Put("data/a", "1").IgnoreError();
  storage->Put("data/b", std::string(3, '\0')).IgnoreError();
  storage->Put("table/client", "x").IgnoreError();
  return EncodeStateImage(*storage->NewSnapshot(), {"data/", "table/"}).value();
}

}  // namespace

std::map<std::string, std::vector<std::string>> Seeds() {
  return {{"state_image_fuzzer", {Image(), "RSI1"}}};
}

}  // namespace fuzz
}  // namespace resdb
