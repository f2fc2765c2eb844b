#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_TESTING_RESTARTABLE_STORAGE_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_TESTING_RESTARTABLE_STORAGE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "platform/storage/scoped_temp_dir.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace raft {

enum class Backend { kMemory, kLevelDB };
const char* BackendName(Backend backend);

// For tests of the durable RAFT components: a database of either backend and a view of it
// restricted to one prefix, which can be closed and opened again as a process restart would.
// A LevelDB database really closes and reopens; a memory database keeps its contents.
class RestartableStorage {
 public:
  RestartableStorage(Backend backend, std::string prefix, std::string owner);

  // Opens the database (if closed) and the prefixed view.
  absl::Status Open();
  // Drops the view and, for LevelDB, closes the database.
  void Close();

  // Null while closed.
  Storage* base() const { return base_.get(); }
  Storage* view() const { return view_.get(); }

 private:
  const Backend backend_;
  const std::string prefix_;
  const std::string owner_;
  ScopedTempDir dir_;
  std::unique_ptr<Storage> base_;
  std::unique_ptr<Storage> view_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_TESTING_RESTARTABLE_STORAGE_H_
