#ifndef PLATFORM_CONSENSUS_EXECUTION_CLIENT_REQUEST_VERIFIER_H_
#define PLATFORM_CONSENSUS_EXECUTION_CLIENT_REQUEST_VERIFIER_H_

#include <cstddef>
#include <deque>
#include <mutex>
#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {

// Checks that client requests carry their client's signature (see client_identity.h) before a
// replica orders or vouches for them: a request as it arrives from the client or from another
// replica, and every request of a batch a primary proposes. A request seen valid recently is
// not checked again (the same request reaches a replica from its client and then in the
// primary's batch); the memory of those is bounded. Thread-safe.
class ClientRequestVerifier {
 public:
  explicit ClientRequestVerifier(size_t remembered = 100000);

  // True if `request` is signed by the client its client_id names.
  bool Verify(const UserRequest& request);

  // True if `batch` is a serialized BatchUserRequest whose requests all verify (an empty
  // batch does).
  bool VerifyBatch(absl::string_view batch);

  // False only if `message` is a PRE_PREPARE whose batch holds a request its client did not
  // sign. A replica asks this before the protocol sees a message: a batch that reached the
  // protocol could be prepared and committed whatever its requests claim.
  bool VerifyProposedBatch(const Request& message);

 private:
  const size_t remembered_;
  std::mutex mu_;
  // (client_id, request_id, SHA-256 of the data) of requests verified recently, oldest first.
  std::set<std::string> verified_;  // guarded by mu_
  std::deque<std::string> order_;   // guarded by mu_
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_CLIENT_REQUEST_VERIFIER_H_
