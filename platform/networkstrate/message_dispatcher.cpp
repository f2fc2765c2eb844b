#include "platform/networkstrate/message_dispatcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/networkstrate/tls_credentials.h"

namespace resdb {

MessageDispatcher::MessageDispatcher(const ResDBConfig& config, ConsensusManager* manager,
                                     Stats* stats)
    : self_id_(config.GetSelfId()),
      max_request_bytes_(static_cast<size_t>(std::max<int64_t>(0, config.GetMaxRequestBytes()))),
      manager_(manager),
      tls_(config.UsesTls()),
      allow_plaintext_admin_(config.GetConfigData().allow_plaintext_admin()),
      admin_only_queries_(config.GetConfigData().query_access() == kQueryAccessAdmin),
      admin_identities_(config.GetConfigData().admin_identities().begin(),
                        config.GetConfigData().admin_identities().end()),
      max_admin_timeout_ms_(config.GetConfigData().max_admin_timeout_ms()),
      client_timeout_ms_(config.GetClientTimeoutMs()),
      client_calls_(stats->GetCounter("network_client_calls")),
      replica_messages_(stats->GetCounter("network_replica_messages")),
      malformed_(stats->GetCounter("network_malformed")),
      unknown_type_(stats->GetCounter("network_unknown_type")),
      oversized_(stats->GetCounter("network_oversized_requests")),
      bad_signature_(stats->GetCounter("network_bad_signature")),
      rejected_(stats->GetCounter("network_consensus_rejected")),
      sender_mismatch_(stats->GetCounter("network_sender_mismatch")),
      non_member_streams_(stats->GetCounter("network_non_member_streams")),
      permission_denied_(stats->GetCounter("network_permission_denied")) {}

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

bool MessageDispatcher::IsAdmin(const std::string& caller_identity) const {
  if (!tls_) return allow_plaintext_admin_;
  return admin_identities_.count(caller_identity) > 0;
}

std::string MessageDispatcher::Authorize(Request* request,
                                         const std::string& caller_identity) const {
  const std::string who =
      caller_identity.empty() ? std::string("an unauthenticated caller") : caller_identity;
  switch (request->type()) {
    case Request::TYPE_ADMIN: {
      if (!IsAdmin(caller_identity)) {
        return absl::StrCat(who, " is not an admin identity of this deployment");
      }
      AdminRequest admin;
      // A request that does not parse is the manager's to refuse.
      if (!admin.ParseFromString(request->data())) return "";
      const int wanted = admin.timeout_ms() > 0 ? admin.timeout_ms() : client_timeout_ms_;
      if (wanted > max_admin_timeout_ms_) {
        admin.set_timeout_ms(max_admin_timeout_ms_);
        admin.SerializeToString(request->mutable_data());
      }
      return "";
    }
    case Request::TYPE_STATUS:
    case Request::TYPE_CUSTOM_QUERY:
      if (admin_only_queries_ && !IsAdmin(caller_identity)) {
        return absl::StrCat(who, " may not query replicas (query_access is \"admin\")");
      }
      return "";
    default:
      return "";
  }
}

Response MessageDispatcher::Refusal(Response::Status status, const std::string& error) const {
  Response response;
  response.set_status(status);
  response.set_error(error);
  response.set_replica_id(self_id_);
  return response;
}

void MessageDispatcher::DispatchClientCall(const ResDBMessage& envelope, Context::ReplyFn reply,
                                           const std::string& caller_identity) {
  client_calls_->Increment();
  if (!accepting_.load(std::memory_order_acquire)) {
    reply(Refusal(Response::UNAVAILABLE, "replica is not serving"));
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
    reply(Refusal(Response::INVALID_REQUEST, error));
    return;
  }
  const std::string denied = Authorize(request.get(), caller_identity);
  if (!denied.empty()) {
    permission_denied_->Increment();
    reply(Refusal(Response::PERMISSION_DENIED, denied));
    return;
  }
  auto context = std::make_unique<Context>(envelope.signature(), envelope.data(), std::move(reply),
                                           caller_identity);
  if (manager_->OnClientCall(std::move(context), std::move(request)) < 0) {
    // The manager dropped the Context (which answered UNAVAILABLE) or answered itself.
    rejected_->Increment();
  }
}

bool MessageDispatcher::AcceptReplicaStream(const std::string& caller_identity,
                                            int64_t* channel_id) {
  *channel_id = 0;
  if (!tls_) return true;
  const int64_t id = ReplicaIdOf(caller_identity);
  if (id == 0 || !manager_->IsReplicaMember(id)) {
    non_member_streams_->Increment();
    return false;
  }
  *channel_id = id;
  return true;
}

bool MessageDispatcher::DispatchReplicaMessage(ResDBMessage* envelope, int64_t channel_id) {
  replica_messages_->Increment();
  if (!accepting_.load(std::memory_order_acquire)) return false;
  std::string error;
  std::unique_ptr<Request> request = ParseRequest(envelope->data(), &error);
  if (request == nullptr) return false;
  // A member speaks only for itself: its channel's certificate names the sender.
  if (channel_id != 0 && request->sender_id() != channel_id) {
    sender_mismatch_->Increment();
    return false;
  }
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
  if (manager_->OnReplicaMessage(std::move(request), std::move(*envelope)) < 0) {
    rejected_->Increment();
    return false;
  }
  return true;
}

}  // namespace resdb
