#ifndef PLATFORM_STORAGE_FORWARDING_STORAGE_H_
#define PLATFORM_STORAGE_FORWARDING_STORAGE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "platform/storage/storage.h"

namespace resdb {

// A Storage that hands every call to another one; a subclass overrides the calls it watches or
// breaks (tests count reads, fail writes as a full disk would, or crash after N writes).
class ForwardingStorage : public Storage {
 public:
  // `inner` must outlive this object.
  explicit ForwardingStorage(Storage* inner) : inner_(inner) {}
  // Owns `inner`.
  explicit ForwardingStorage(std::unique_ptr<Storage> inner)
      : owned_(std::move(inner)), inner_(owned_.get()) {}

  absl::StatusOr<std::string> Get(absl::string_view key) override { return inner_->Get(key); }
  absl::Status Write(const WriteBatch& batch, bool sync) override {
    return inner_->Write(batch, sync);
  }
  absl::Status Scan(
      absl::string_view begin, absl::string_view end,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) override {
    return inner_->Scan(begin, end, visit);
  }
  absl::Status Flush() override { return inner_->Flush(); }
  std::unique_ptr<StorageSnapshot> NewSnapshot() override { return inner_->NewSnapshot(); }

 protected:
  Storage* inner() const { return inner_; }

 private:
  std::unique_ptr<Storage> owned_;
  Storage* const inner_;
};

}  // namespace resdb

#endif  // PLATFORM_STORAGE_FORWARDING_STORAGE_H_
