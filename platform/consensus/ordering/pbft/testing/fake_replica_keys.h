#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_TESTING_FAKE_REPLICA_KEYS_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_TESTING_FAKE_REPLICA_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "platform/common/crypto/signature.h"
#include "platform/consensus/ordering/pbft/evidence.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {

// A deterministic stand-in for the replicas' Ed25519 keys in tests and the simulator:
// replica i signs with SHA-256 over a key of its own, derived from `secret`, and the data.
// Code playing a Byzantine replica signs only with its own id, so what it claims in another
// replica's name does not verify, as with real keys.
class FakeReplicaKeys {
 public:
  explicit FakeReplicaKeys(uint64_t secret = 1) : secret_(secret) {}

  std::string Sign(int64_t node, absl::string_view data) const {
    return Sha256(absl::StrCat("replica-key:", secret_, ":", node, ":", data));
  }

  bool Verify(int64_t node, absl::string_view data, absl::string_view signature) const {
    return signature == Sign(node, data);
  }

  // `message` serialized and signed by `signer` (its sender unless a forger says otherwise).
  SignedMessage SignAs(int64_t signer, const Request& message) const {
    SignedMessage out;
    message.SerializeToString(out.mutable_data());
    out.set_signer(message.sender_id());
    out.set_signature(Sign(signer, out.data()));
    return out;
  }
  SignedMessage SignedBySender(const Request& message) const {
    return SignAs(message.sender_id(), message);
  }

  // What replica `node` signs its own evidence with.
  SignatureMaker SignerFor(int64_t node) const {
    const FakeReplicaKeys keys = *this;
    return [keys, node](absl::string_view data) { return keys.Sign(node, data); };
  }

  SignatureCheck Checker() const {
    const FakeReplicaKeys keys = *this;
    return [keys](int64_t node, absl::string_view data, absl::string_view signature) {
      return keys.Verify(node, data, signature);
    };
  }

 private:
  uint64_t secret_;
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_TESTING_FAKE_REPLICA_KEYS_H_
