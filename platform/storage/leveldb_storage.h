#ifndef PLATFORM_STORAGE_LEVELDB_STORAGE_H_
#define PLATFORM_STORAGE_LEVELDB_STORAGE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "platform/storage/storage.h"

namespace resdb {

struct LevelDBOptions {
  size_t block_cache_bytes = 64 << 20;
  size_t write_buffer_bytes = 16 << 20;
  bool create_if_missing = true;
};

// Opens (or creates) the LevelDB database in directory `path`. Fails, naming `path` and
// LevelDB's reason, if the directory cannot be opened, is corrupt, or is already open (in this
// or another process). The database is closed when the returned Storage is destroyed.
absl::StatusOr<std::unique_ptr<Storage>> OpenLevelDBStorage(const std::string& path,
                                                            const LevelDBOptions& options = {});

}  // namespace resdb

#endif  // PLATFORM_STORAGE_LEVELDB_STORAGE_H_
