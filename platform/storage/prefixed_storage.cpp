#include "platform/storage/prefixed_storage.h"

#include "absl/strings/str_cat.h"
#include "platform/storage/key_range.h"

namespace resdb {

PrefixedStorage::PrefixedStorage(Storage* base, absl::string_view prefix)
    : base_(base), prefix_(prefix), prefix_end_(PrefixSuccessor(prefix)) {}

std::string PrefixedStorage::Prefixed(absl::string_view key) const {
  return absl::StrCat(prefix_, key);
}

absl::StatusOr<std::string> PrefixedStorage::Get(absl::string_view key) {
  return base_->Get(Prefixed(key));
}

absl::Status PrefixedStorage::Write(const WriteBatch& batch, bool sync) {
  WriteBatch prefixed;
  for (const WriteBatch::Op& op : batch.ops()) {
    if (op.is_delete) {
      prefixed.Delete(Prefixed(op.key));
    } else {
      prefixed.Put(Prefixed(op.key), op.value);
    }
  }
  return base_->Write(prefixed, sync);
}

namespace {

// Scan of the view [begin, end) through `scan_base`, a Scan of the base storage.
template <typename BaseScan>
absl::Status ScanPrefixed(
    const std::string& prefix, const std::string& prefix_end, absl::string_view begin,
    absl::string_view end,
    const std::function<bool(absl::string_view key, absl::string_view value)>& visit,
    BaseScan scan_base) {
  const std::string base_end = end.empty() ? prefix_end : absl::StrCat(prefix, end);
  const size_t prefix_size = prefix.size();
  return scan_base(absl::StrCat(prefix, begin), base_end,
                   [&](absl::string_view key, absl::string_view value) {
                     return visit(key.substr(prefix_size), value);
                   });
}

class PrefixedSnapshot : public StorageSnapshot {
 public:
  PrefixedSnapshot(std::unique_ptr<StorageSnapshot> base, std::string prefix,
                   std::string prefix_end)
      : base_(std::move(base)), prefix_(std::move(prefix)), prefix_end_(std::move(prefix_end)) {}

  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const std::function<bool(absl::string_view key, absl::string_view value)>&
                        visit) const override {
    return ScanPrefixed(prefix_, prefix_end_, begin, end, visit,
                        [this](absl::string_view b, absl::string_view e, const auto& v) {
                          return base_->Scan(b, e, v);
                        });
  }

 private:
  const std::unique_ptr<StorageSnapshot> base_;
  const std::string prefix_;
  const std::string prefix_end_;
};

}  // namespace

absl::Status PrefixedStorage::Scan(
    absl::string_view begin, absl::string_view end,
    const std::function<bool(absl::string_view key, absl::string_view value)>& visit) {
  return ScanPrefixed(prefix_, prefix_end_, begin, end, visit,
                      [this](absl::string_view b, absl::string_view e, const auto& v) {
                        return base_->Scan(b, e, v);
                      });
}

absl::Status PrefixedStorage::Flush() { return base_->Flush(); }

std::unique_ptr<StorageSnapshot> PrefixedStorage::NewSnapshot() {
  return std::make_unique<PrefixedSnapshot>(base_->NewSnapshot(), prefix_, prefix_end_);
}

}  // namespace resdb
