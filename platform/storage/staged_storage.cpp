#include "platform/storage/staged_storage.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace resdb {

StagedStorage::StagedStorage(Storage* base) : base_(base) {}

absl::StatusOr<std::string> StagedStorage::Get(absl::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = latest_.find(key);
  if (it == latest_.end()) return base_->Get(key);
  if (!it->second.has_value()) {
    return absl::NotFoundError(absl::StrCat("key \"", absl::CHexEscape(key), "\" not found"));
  }
  return *it->second;
}

absl::Status StagedStorage::Write(const WriteBatch& batch, bool /*sync*/) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const WriteBatch::Op& op : batch.ops()) {
    if (op.is_delete) {
      staged_.Delete(op.key);
      latest_[op.key] = std::nullopt;
    } else {
      staged_.Put(op.key, op.value);
      latest_[op.key] = op.value;
    }
  }
  return absl::OkStatus();
}

absl::Status StagedStorage::Scan(
    absl::string_view begin, absl::string_view end,
    const std::function<bool(absl::string_view key, absl::string_view value)>& visit) {
  std::lock_guard<std::mutex> lock(mu_);
  // Merges the committed keys with the held-back ones, which win.
  auto next = latest_.lower_bound(begin);
  const auto in_range = [&] { return next != latest_.end() && (end.empty() || next->first < end); };
  bool stopped = false;
  // Visits the held-back keys before `key`, or all remaining ones without a key.
  const auto visit_staged_before = [&](std::optional<absl::string_view> key) {
    while (!stopped && in_range() && (!key.has_value() || next->first < *key)) {
      if (next->second.has_value() && !visit(next->first, *next->second)) stopped = true;
      ++next;
    }
  };
  absl::Status status =
      base_->Scan(begin, end, [&](absl::string_view key, absl::string_view value) {
        visit_staged_before(key);
        if (stopped) return false;
        if (in_range() && next->first == key) {
          // Replaced or deleted by a held-back write.
          if (next->second.has_value() && !visit(key, *next->second)) stopped = true;
          ++next;
        } else if (!visit(key, value)) {
          stopped = true;
        }
        return !stopped;
      });
  if (!status.ok()) return status;
  visit_staged_before(std::nullopt);
  return absl::OkStatus();
}

absl::Status StagedStorage::Flush() { return base_->Flush(); }

std::unique_ptr<StorageSnapshot> StagedStorage::NewSnapshot() { return base_->NewSnapshot(); }

absl::Status StagedStorage::Commit(
    const std::function<absl::Status(const WriteBatch& staged)>& write) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Status status = write(staged_);
  staged_.Clear();
  latest_.clear();
  return status;
}

bool StagedStorage::HasStaged() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !staged_.empty();
}

}  // namespace resdb
