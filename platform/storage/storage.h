#ifndef PLATFORM_STORAGE_STORAGE_H_
#define PLATFORM_STORAGE_STORAGE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace resdb {

// A set of puts and deletes applied atomically by Storage::Write, in insertion order.
class WriteBatch {
 public:
  void Put(absl::string_view key, absl::string_view value);
  void Delete(absl::string_view key);
  // Adds the operations of `batch`, made on the view of `prefix` (a PrefixedStorage), as they
  // are on the storage under that view.
  void AppendPrefixed(absl::string_view prefix, const WriteBatch& batch);
  void Clear();
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  // Approximate payload bytes (keys + values).
  size_t ByteSize() const { return bytes_; }

  struct Op {
    bool is_delete;
    std::string key;
    std::string value;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

// One version of a versioned value.
struct VersionedValue {
  std::string value;
  uint64_t version = 0;
};

// An ordered byte-string key/value store. Keys compare as unsigned bytes (memcmp order).
//
// Keys that start with the byte 0xFF are reserved for the versioned-value bookkeeping below;
// Put/Delete/SetWithVersion reject them with InvalidArgumentError. Write is the raw primitive
// and accepts any key. Scan over user keys should stop below "\xff".
//
// A read-only view of a whole Storage as it was when the view was taken: writes made later are
// not seen, however long it is read. It keeps the data it sees alive, so release it once read.
// Thread-safe; must not outlive the Storage it came from.
class StorageSnapshot {
 public:
  virtual ~StorageSnapshot() = default;

  // As Storage::Scan, over the view.
  virtual absl::Status Scan(
      absl::string_view begin, absl::string_view end,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const = 0;
};

// Thread-safe: any method may be called from any thread. A successful Write with sync = true
// is on stable storage when it returns; one with sync = false survives a process crash but
// maybe not a machine crash.
class Storage {
 public:
  virtual ~Storage() = default;

  // Returns the value, or NotFoundError if the key is absent.
  virtual absl::StatusOr<std::string> Get(absl::string_view key) = 0;

  // Applies every operation of `batch` or none of them.
  virtual absl::Status Write(const WriteBatch& batch, bool sync) = 0;

  // Calls `visit(key, value)` for each key in [begin, end) in ascending order until it returns
  // false. An empty `end` means "to the last key". The view is a consistent snapshot taken when
  // Scan starts; writes made during the scan are not seen.
  virtual absl::Status Scan(
      absl::string_view begin, absl::string_view end,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) = 0;

  // Makes every earlier write durable.
  virtual absl::Status Flush() = 0;

  // A consistent view of every key as of now, for reads that take long while writes go on
  // (one Scan is consistent by itself; several reads of one snapshot are consistent together).
  virtual std::unique_ptr<StorageSnapshot> NewSnapshot() = 0;

  // Convenience wrappers over Write.
  absl::Status Put(absl::string_view key, absl::string_view value, bool sync = false);
  absl::Status Delete(absl::string_view key, bool sync = false);

  // Up to `limit` key/value pairs in [begin, end) (limit 0 = no limit).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> GetRange(absl::string_view begin,
                                                                            absl::string_view end,
                                                                            size_t limit = 0);

  // Versioned values. Each key written this way has a version that starts at 0 (absent) and
  // grows by one per write; Get(key) returns the latest value too.
  //
  // Writes `value` as version expected_version + 1 if the key's current version equals
  // `expected_version`; otherwise FailedPreconditionError naming the current version.
  // Returns the new version. The `kMaxVersionHistory` most recent versions (the latest
  // included) are kept; older ones are deleted in the same atomic write.
  absl::StatusOr<uint64_t> SetWithVersion(absl::string_view key, absl::string_view value,
                                          uint64_t expected_version, bool sync = false);
  // version == 0 reads the latest version; otherwise that version if it is still kept.
  // NotFoundError if the key or that version does not exist.
  absl::StatusOr<VersionedValue> GetWithVersion(absl::string_view key, uint64_t version = 0);
  // The kept versions in [min_version, max_version] (0 = unbounded), oldest first.
  absl::StatusOr<std::vector<VersionedValue>> GetHistory(absl::string_view key,
                                                         uint64_t min_version = 0,
                                                         uint64_t max_version = 0);

  static constexpr uint64_t kMaxVersionHistory = 16;

 private:
  // Serialises the read-check-write of SetWithVersion on this object.
  std::mutex version_mu_;
};

}  // namespace resdb

#endif  // PLATFORM_STORAGE_STORAGE_H_
