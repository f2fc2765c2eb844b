#include "platform/consensus/execution/state_digest.h"

#include "absl/strings/str_cat.h"
#include "platform/common/crypto/signature.h"

namespace resdb {

absl::Status StateDigest::Load(Storage* storage) {
  absl::StatusOr<std::string> stored = storage->Get(kKey);
  if (!stored.ok() && !absl::IsNotFound(stored.status())) return stored.status();
  std::lock_guard<std::mutex> lock(mu_);
  value_ = stored.ok() ? *stored : std::string();
  return absl::OkStatus();
}

void StateDigest::Extend(const BatchUserResponse& response, WriteBatch* batch) {
  std::lock_guard<std::mutex> lock(mu_);
  value_ = Sha256(absl::StrCat(value_, response.SerializeAsString()));
  batch->Put(kKey, value_);
}

std::string StateDigest::value() const {
  std::lock_guard<std::mutex> lock(mu_);
  return value_;
}

}  // namespace resdb
