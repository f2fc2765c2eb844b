#ifndef TESTS_RECORDING_STORAGE_H_
#define TESTS_RECORDING_STORAGE_H_

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "platform/storage/forwarding_storage.h"
#include "platform/storage/prefix_allocator.h"

namespace resdb {
namespace testing_util {

// A Storage that records, for every write, whether it held user data (kUserDataPrefix) and
// the applied index (the key `applied_index_key` of the whole storage): what a test needs to
// see that a batch's state never reaches the disk without the record that it was applied.
class RecordingStorage : public ForwardingStorage {
 public:
  struct WriteShape {
    bool user_data = false;
    bool applied_index = false;
  };

  RecordingStorage(std::unique_ptr<Storage> base, std::string applied_index_key)
      : ForwardingStorage(std::move(base)), applied_index_key_(std::move(applied_index_key)) {}

  absl::Status Write(const WriteBatch& batch, bool sync) override {
    WriteShape shape;
    for (const WriteBatch::Op& op : batch.ops()) {
      shape.user_data |= absl::StartsWith(op.key, kUserDataPrefix);
      shape.applied_index |= op.key == applied_index_key_;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      writes_.push_back(shape);
    }
    return ForwardingStorage::Write(batch, sync);
  }

  std::vector<WriteShape> writes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }

 private:
  const std::string applied_index_key_;
  mutable std::mutex mu_;
  std::vector<WriteShape> writes_;
};

}  // namespace testing_util
}  // namespace resdb

#endif  // TESTS_RECORDING_STORAGE_H_
