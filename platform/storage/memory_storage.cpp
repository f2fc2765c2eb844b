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
    std::vector<std::pair<std::string, std::string>> snapshot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = data_.lower_bound(std::string(begin)); it != data_.end(); ++it) {
        if (!end.empty() && absl::string_view(it->first) >= end) break;
        snapshot.emplace_back(it->first, it->second);
      }
    }
    for (const auto& [key, value] : snapshot) {
      if (!visit(key, value)) break;
    }
    return absl::OkStatus();
  }

  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> data_;
};

}  // namespace

std::unique_ptr<Storage> NewMemoryStorage() { return std::make_unique<MemoryStorage>(); }

}  // namespace resdb
