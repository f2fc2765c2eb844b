#include "platform/consensus/ordering/raft/testing/restartable_storage.h"

#include <utility>

#include "platform/storage/leveldb_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"

namespace resdb {
namespace raft {

const char* BackendName(Backend backend) {
  return backend == Backend::kLevelDB ? "LevelDB" : "Memory";
}

RestartableStorage::RestartableStorage(Backend backend, std::string prefix, std::string owner)
    : backend_(backend), prefix_(std::move(prefix)), owner_(std::move(owner)) {}

absl::Status RestartableStorage::Open() {
  if (base_ == nullptr) {
    if (backend_ == Backend::kLevelDB) {
      absl::StatusOr<std::unique_ptr<Storage>> db = OpenLevelDBStorage(dir_.path());
      if (!db.ok()) return db.status();
      base_ = *std::move(db);
    } else {
      base_ = NewMemoryStorage();
    }
  }
  PrefixAllocator allocator;
  absl::StatusOr<std::unique_ptr<Storage>> view = allocator.Allocate(base_.get(), prefix_, owner_);
  if (!view.ok()) return view.status();
  view_ = *std::move(view);
  return absl::OkStatus();
}

void RestartableStorage::Close() {
  view_.reset();
  if (backend_ == Backend::kLevelDB) base_.reset();
}

}  // namespace raft
}  // namespace resdb
