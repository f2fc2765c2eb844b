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

absl::Status PrefixedStorage::Scan(
    absl::string_view begin, absl::string_view end,
    const std::function<bool(absl::string_view key, absl::string_view value)>& visit) {
  const std::string base_end = end.empty() ? prefix_end_ : Prefixed(end);
  const size_t prefix_size = prefix_.size();
  return base_->Scan(Prefixed(begin), base_end,
                     [&](absl::string_view key, absl::string_view value) {
                       return visit(key.substr(prefix_size), value);
                     });
}

absl::Status PrefixedStorage::Flush() { return base_->Flush(); }

}  // namespace resdb
