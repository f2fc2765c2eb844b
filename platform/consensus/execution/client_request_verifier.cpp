#include "platform/consensus/execution/client_request_verifier.h"

#include "absl/strings/str_cat.h"
#include "platform/common/crypto/client_identity.h"
#include "platform/common/crypto/signature.h"

namespace resdb {

ClientRequestVerifier::ClientRequestVerifier(size_t remembered) : remembered_(remembered) {}

bool ClientRequestVerifier::Verify(const UserRequest& request) {
  // The key names what was verified: the client's own request id and payload. A signature
  // that verified once for them proves the request, whatever bytes another copy carries.
  std::string key =
      absl::StrCat(request.client_id(), "/", request.request_id(), "/", Sha256(request.data()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (verified_.count(key) > 0) return true;
  }
  if (!VerifyClientRequest(request.client_id(), request.request_id(), request.data(),
                           request.client_public_key(), request.client_signature())) {
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (remembered_ == 0 || !verified_.insert(key).second) return true;
  order_.push_back(std::move(key));
  while (order_.size() > remembered_) {
    verified_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

bool ClientRequestVerifier::VerifyBatch(absl::string_view batch) {
  BatchUserRequest requests;
  if (!requests.ParseFromArray(batch.data(), static_cast<int>(batch.size()))) return false;
  for (const UserRequest& request : requests.requests()) {
    if (!Verify(request)) return false;
  }
  return true;
}

bool ClientRequestVerifier::VerifyProposedBatch(const Request& message) {
  if (message.type() != Request::TYPE_PRE_PREPARE) return true;
  return VerifyBatch(message.data());
}

}  // namespace resdb
