#ifndef PLATFORM_STORAGE_STAGED_STORAGE_H_
#define PLATFORM_STORAGE_STAGED_STORAGE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "platform/storage/storage.h"

namespace resdb {

// Writes to a Storage held back until the owner commits them, so that they reach the disk in
// one atomic write together with other records: RAFT writes a batch's state changes with the
// applied-request table and the applied index, so a crash never leaves the one without the
// other. Reads (Get, Scan and everything built on them, versioned values included) see the
// held-back writes; NewSnapshot and Flush see only what was committed. Thread-safe.
class StagedStorage : public Storage {
 public:
  // `base` must outlive this object.
  explicit StagedStorage(Storage* base);

  absl::StatusOr<std::string> Get(absl::string_view key) override;
  // Holds the writes back; `sync` is for the commit to decide.
  absl::Status Write(const WriteBatch& batch, bool sync) override;
  absl::Status Scan(
      absl::string_view begin, absl::string_view end,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) override;
  absl::Status Flush() override;
  std::unique_ptr<StorageSnapshot> NewSnapshot() override;

  // Hands the held-back writes, in order and with keys as `base` sees them, to `write`, which
  // must make them durable in `base` (directly, or through a storage `base` is a view of); then
  // forgets them, whatever `write` returned. Readers wait meanwhile, so that they see the
  // writes either held back or committed, never neither.
  absl::Status Commit(const std::function<absl::Status(const WriteBatch& staged)>& write);

  // Writes are held back.
  bool HasStaged() const;

 private:
  Storage* const base_;
  mutable std::mutex mu_;
  WriteBatch staged_;  // guarded by mu_
  // key -> value or deleted; looked up by string_view without copying the key.
  std::map<std::string, std::optional<std::string>, std::less<>> latest_;  // guarded by mu_
};

}  // namespace resdb

#endif  // PLATFORM_STORAGE_STAGED_STORAGE_H_
