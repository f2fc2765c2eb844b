#include "platform/networkstrate/message_dispatcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace resdb {

MessageDispatcher::MessageDispatcher(int64_t self_id, int64_t max_request_bytes,
                                     ConsensusManager* manager, Stats* stats)
    : self_id_(self_id),
      max_request_bytes_(static_cast<size_t>(std::max<int64_t>(0, max_request_bytes))),
      manager_(manager),
      client_calls_(stats->GetCounter("network_client_calls")),
      replica_messages_(stats->GetCounter("network_replica_messages")),
      malformed_(stats->GetCounter("network_malformed")),
      unknown_type_(stats->GetCounter("network_unknown_type")),
      oversized_(stats->GetCounter("network_oversized_requests")),
      bad_signature_(stats->GetCounter("network_bad_signature")),
      rejected_(stats->GetCounter("network_consensus_rejected")) {}

void MessageDispatcher::SetVerifier(std::shared_ptr<Verifier> verifier) {
  std::lock_guard<std::mutex> lock(mu_);
  verifier_ = std::move(verifier);
}

void MessageDispatcher::SetAccepting(bool accepting) {
  accepting_.store(accepting, std::memory_order_release);
}

std::shared_ptr<Verifier> MessageDispatcher::verifier() const {
  std::lock_guard<std::mutex> lock(mu_);
  return verifier_;
}

std::unique_ptr<Request> MessageDispatcher::ParseRequest(const std::string& data,
                                                         std::string* error) {
  auto request = std::make_unique<Request>();
  if (!request->ParseFromString(data)) {
    malformed_->Increment();
    *error = "malformed request";
    return nullptr;
  }
  // proto3 enums are open: an unknown number parses and must be rejected here.
  const int type = static_cast<int>(request->type());
  if (!Request::Type_IsValid(type) || type == Request::TYPE_NONE) {
    unknown_type_->Increment();
    *error = absl::StrCat("unknown request type ", type);
    return nullptr;
  }
  return request;
}

void MessageDispatcher::DispatchClientCall(const ResDBMessage& envelope, Context::ReplyFn reply) {
  client_calls_->Increment();
  if (!accepting_.load(std::memory_order_acquire)) {
    Response response;
    response.set_status(Response::UNAVAILABLE);
    response.set_error("replica is not serving");
    response.set_replica_id(self_id_);
    reply(response);
    return;
  }
  std::string error;
  std::unique_ptr<Request> request;
  if (envelope.data().size() > max_request_bytes_) {
    // Refused before parsing: a request this large could not be batched and replicated.
    oversized_->Increment();
    error = absl::StrCat("request of ", envelope.data().size(),
                         " bytes is larger than max_request_bytes (", max_request_bytes_, ")");
  } else {
    request = ParseRequest(envelope.data(), &error);
  }
  if (request == nullptr) {
    Response response;
    response.set_status(Response::INVALID_REQUEST);
    response.set_error(error);
    response.set_replica_id(self_id_);
    reply(response);
    return;
  }
  auto context = std::make_unique<Context>(envelope.signature(), envelope.data(), std::move(reply));
  if (manager_->ConsensusCommit(std::move(context), std::move(request)) < 0) {
    // The manager dropped the Context (which answered UNAVAILABLE) or answered itself.
    rejected_->Increment();
  }
}

bool MessageDispatcher::DispatchReplicaMessage(ResDBMessage* envelope) {
  replica_messages_->Increment();
  if (!accepting_.load(std::memory_order_acquire)) return false;
  std::string error;
  std::unique_ptr<Request> request = ParseRequest(envelope->data(), &error);
  if (request == nullptr) return false;
  // A client request another replica forwards obeys the same limit as one from the client.
  if (request->type() == Request::TYPE_CLIENT_REQUEST &&
      request->data().size() > max_request_bytes_) {
    oversized_->Increment();
    return false;
  }
  std::shared_ptr<Verifier> verifier = this->verifier();
  if (verifier != nullptr) {
    const SignatureInfo& signature = envelope->signature();
    if (!envelope->has_signature() || signature.node_id() != request->sender_id() ||
        !verifier->Verify(signature.node_id(), envelope->data(), signature.signature())) {
      bad_signature_->Increment();
      return false;
    }
  }
  auto context = std::make_unique<Context>(std::move(*envelope->mutable_signature()),
                                           std::move(*envelope->mutable_data()));
  if (manager_->ConsensusCommit(std::move(context), std::move(request)) < 0) {
    rejected_->Increment();
    return false;
  }
  return true;
}

}  // namespace resdb
