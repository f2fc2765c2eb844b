#ifndef PLATFORM_STORAGE_PREFIXED_STORAGE_H_
#define PLATFORM_STORAGE_PREFIXED_STORAGE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "platform/storage/storage.h"

namespace resdb {

// A view of the keys of `base` that start with `prefix`, with the prefix removed: Get, Write,
// Scan and Flush prepend it to every key and Scan strips it from the keys it reports. A Scan
// with an empty `end` stops at the end of the prefix range. Versioned values written through
// the view keep their bookkeeping inside the prefix range too.
//
// `base` must outlive the view. Use PrefixAllocator to make sure views do not overlap.
class PrefixedStorage : public Storage {
 public:
  PrefixedStorage(Storage* base, absl::string_view prefix);

  absl::StatusOr<std::string> Get(absl::string_view key) override;
  absl::Status Write(const WriteBatch& batch, bool sync) override;
  absl::Status Scan(
      absl::string_view begin, absl::string_view end,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) override;
  absl::Status Flush() override;
  // A snapshot of the view: its Scan maps keys as the view's does.
  std::unique_ptr<StorageSnapshot> NewSnapshot() override;

  const std::string& prefix() const { return prefix_; }

 private:
  std::string Prefixed(absl::string_view key) const;

  Storage* const base_;
  const std::string prefix_;
  // Exclusive end of the prefix range in `base_` ("" when unbounded).
  const std::string prefix_end_;
};

}  // namespace resdb

#endif  // PLATFORM_STORAGE_PREFIXED_STORAGE_H_
