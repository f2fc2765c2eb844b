#include "platform/storage/memory_storage.h"

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace resdb {
namespace {

// A copy of the data: memory storage holds small test states.
class MemorySnapshot : public StorageSnapshot {
 public:
  explicit MemorySnapshot(std::map<std::string, std::string> data) : data_(std::move(data)) {}

  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const std::function<bool(absl::string_view key, absl::string_view value)>&
                        visit) const override {
    for (auto it = data_.lower_bound(std::string(begin)); it != data_.end(); ++it) {
      if (!end.empty() && absl::string_view(it->first) >= end) break;
      if (!visit(it->first, it->second)) break;
    }
    return absl::OkStatus();
  }

 private:
  const std::map<std::string, std::string> data_;
};

class MemoryStorage : public Storage {
 public:
  absl::StatusOr<std::string> Get(absl::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = data_.find(std::string(key));
    if (it == data_.end()) {
      return absl::NotFoundError(absl::StrCat("key \"", absl::CHexEscape(key), "\" not found"));
    }
    return it->second;
  }

  absl::Status Write(const WriteBatch& batch, bool /*sync*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.is_delete) {
        data_.erase(op.key);
      } else {
        data_[op.key] = op.value;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Scan(
      absl::string_view begin, absl::string_view end,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) override {
    // The range is copied under the lock so that `visit` runs unlocked (it may write to this
    // storage) and still sees a consistent snapshot.
    std::map<std::string, std::string> range;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = data_.lower_bound(std::string(begin)); it != data_.end(); ++it) {
        if (!end.empty() && absl::string_view(it->first) >= end) break;
        range.emplace(it->first, it->second);
      }
    }
    return MemorySnapshot(std::move(range)).Scan(begin, end, visit);
  }

  std::unique_ptr<StorageSnapshot> NewSnapshot() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::make_unique<MemorySnapshot>(data_);
  }

  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> data_;
};

}  // namespace

std::unique_ptr<Storage> NewMemoryStorage() { return std::make_unique<MemoryStorage>(); }

}  // namespace resdb
