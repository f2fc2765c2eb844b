#ifndef PLATFORM_COMMON_CRYPTO_CLIENT_IDENTITY_H_
#define PLATFORM_COMMON_CRYPTO_CLIENT_IDENTITY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "platform/common/crypto/signature.h"

namespace resdb {

// A client's identity is its Ed25519 key: the client id is derived from the public key, so a
// request that carries the key and a signature proves who sent it without any registry, and
// no one without the private key can act in that client's name or use up its request ids.

// The client id of `public_key` (raw, 32 bytes): the first 8 bytes of its SHA-256, big-endian;
// never 0 (0 means "no client").
uint64_t ClientIdOf(absl::string_view public_key);

// What a client signs for request `request_id` with payload `data`. The ids are part of it so
// that a signature cannot be moved to another request.
std::string ClientSignedBytes(uint64_t client_id, uint64_t request_id, absl::string_view data);

// True only if `public_key` belongs to `client_id` and `signature` is its signature over the
// request.
bool VerifyClientRequest(uint64_t client_id, uint64_t request_id, absl::string_view data,
                         absl::string_view public_key, absl::string_view signature);

// A client's key pair and the id it gives. Thread-safe.
class ClientIdentity {
 public:
  // A new identity held in memory (a client without a key file of its own).
  static absl::StatusOr<std::unique_ptr<ClientIdentity>> Generate();
  // The identity of the 32-byte Ed25519 seed `seed` (see Signer::FromSeed): for tests and
  // simulations that must give the same clients every run.
  static absl::StatusOr<std::unique_ptr<ClientIdentity>> FromSeed(absl::string_view seed);
  // The identity of an Ed25519 private key in PEM (resdb_keygen makes one).
  static absl::StatusOr<std::unique_ptr<ClientIdentity>> LoadFromFile(const std::string& path);

  uint64_t client_id() const { return client_id_; }
  const std::string& public_key() const { return public_key_; }
  std::string Sign(uint64_t request_id, absl::string_view data) const;

 private:
  explicit ClientIdentity(std::unique_ptr<Signer> signer);

  const std::unique_ptr<Signer> signer_;
  const std::string public_key_;
  const uint64_t client_id_;
};

}  // namespace resdb

#endif  // PLATFORM_COMMON_CRYPTO_CLIENT_IDENTITY_H_
