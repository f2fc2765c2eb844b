#ifndef PLATFORM_NETWORKSTRATE_CONTEXT_H_
#define PLATFORM_NETWORKSTRATE_CONTEXT_H_

#include <atomic>
#include <functional>
#include <string>

#include "platform/proto/resdb.pb.h"

namespace resdb {

// What the transport knows about one incoming message besides the Request itself: who signed
// the envelope, the exact bytes the signature covers, and, for a client call, the channel the
// answer goes back on.
//
// A Context from a replica stream has no reply channel. A Context from a client call has one,
// and the call stays open until Reply() is called or the Context is destroyed: destroying it
// with the channel unused answers the client with UNAVAILABLE "request dropped by replica", so
// no client call hangs because a message was dropped.
class Context {
 public:
  // Delivers the one answer of a client call. Must be safe to call from any thread.
  using ReplyFn = std::function<void(const Response&)>;

  // A message without a reply channel (replica traffic).
  Context(SignatureInfo signature, std::string signed_data);
  // A client call answered through `reply`, which is invoked at most once. `caller_identity`
  // is the common name of the caller's verified TLS certificate, "" without TLS.
  Context(SignatureInfo signature, std::string signed_data, ReplyFn reply,
          std::string caller_identity = "");
  ~Context();

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // The envelope's signature (empty when the sender did not sign).
  const SignatureInfo& signature() const { return signature_; }
  // The serialized Request exactly as received: the bytes `signature()` covers.
  const std::string& signed_data() const { return signed_data_; }

  // Who made the call, as the transport authenticated it ("" when unknown: plaintext, or a
  // replica message). The transport has already checked admin rights against it.
  const std::string& caller_identity() const { return caller_identity_; }

  // True while this Context has a reply channel that has not been used yet.
  bool CanReply() const;

  // Sends `response` to the client. The first call wins; later calls, and calls on a Context
  // without a reply channel, are ignored. Thread-safe; may be called from any thread, also
  // long after OnClientCall returned.
  void Reply(const Response& response);

 private:
  const SignatureInfo signature_;
  const std::string signed_data_;
  const std::string caller_identity_;
  // Never modified after construction, so reading it needs no lock; `replied_` decides which
  // caller may invoke it.
  const ReplyFn reply_;
  std::atomic<bool> replied_{false};
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_CONTEXT_H_
