#include "platform/networkstrate/context.h"

#include <utility>

namespace resdb {

Context::Context(SignatureInfo signature, std::string signed_data)
    : Context(std::move(signature), std::move(signed_data), nullptr) {}

Context::Context(SignatureInfo signature, std::string signed_data, ReplyFn reply,
                 std::string caller_identity)
    : signature_(std::move(signature)),
      signed_data_(std::move(signed_data)),
      caller_identity_(std::move(caller_identity)),
      reply_(std::move(reply)) {}

Context::~Context() {
  if (!CanReply()) return;
  Response dropped;
  dropped.set_status(Response::UNAVAILABLE);
  dropped.set_error("request dropped by replica");
  Reply(dropped);
}

bool Context::CanReply() const {
  return reply_ != nullptr && !replied_.load(std::memory_order_acquire);
}

void Context::Reply(const Response& response) {
  if (reply_ == nullptr) return;
  if (replied_.exchange(true, std::memory_order_acq_rel)) return;
  reply_(response);
}

}  // namespace resdb
