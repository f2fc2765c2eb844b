#ifndef PLATFORM_STORAGE_MEMORY_STORAGE_H_
#define PLATFORM_STORAGE_MEMORY_STORAGE_H_

#include <memory>

#include "platform/storage/storage.h"

namespace resdb {

// A volatile Storage backed by an ordered in-memory map. Writes are lost when it is destroyed;
// `sync` and Flush are no-ops.
std::unique_ptr<Storage> NewMemoryStorage();

}  // namespace resdb

#endif  // PLATFORM_STORAGE_MEMORY_STORAGE_H_
