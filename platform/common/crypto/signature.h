#ifndef PLATFORM_COMMON_CRYPTO_SIGNATURE_H_
#define PLATFORM_COMMON_CRYPTO_SIGNATURE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace resdb {

// SHA-256 of `data` as 32 raw bytes.
std::string Sha256(absl::string_view data);

// Lower-case hex of raw bytes (for logs and state digests shown to people).
std::string ToHex(absl::string_view bytes);

// Writes a new Ed25519 key pair as PEM files (private key readable by the owner only).
absl::Status GenerateKeyPair(const std::string& private_key_path,
                             const std::string& public_key_path);

// Signs with one replica's Ed25519 private key. Thread-safe.
class Signer {
 public:
  // Loads a PEM private key; the error names the file.
  static absl::StatusOr<std::unique_ptr<Signer>> LoadFromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Signer>> LoadFromPem(absl::string_view pem);
  // A new key held in memory only.
  static absl::StatusOr<std::unique_ptr<Signer>> Generate();
  // The key whose 32-byte Ed25519 private seed is `seed`: the same seed, the same key. For
  // tests and simulations that must repeat a run; a real key comes from Generate().
  static absl::StatusOr<std::unique_ptr<Signer>> FromSeed(absl::string_view seed);
  ~Signer();

  // The raw 32-byte Ed25519 public key.
  std::string PublicKey() const;

  // The signature over `data` (64 bytes for Ed25519).
  std::string Sign(absl::string_view data) const;

 private:
  struct Key;
  explicit Signer(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
};

// True only if `signature` is a valid Ed25519 signature over `data` by the raw 32-byte public
// key `public_key`.
bool VerifyWithPublicKey(absl::string_view public_key, absl::string_view data,
                         absl::string_view signature);

// Checks signatures against the public keys of known nodes. Thread-safe once populated.
class Verifier {
 public:
  Verifier();
  ~Verifier();

  absl::Status AddPublicKeyFromFile(int64_t node_id, const std::string& path);
  absl::Status AddPublicKeyFromPem(int64_t node_id, absl::string_view pem);
  bool HasKey(int64_t node_id) const;

  // True only if `node_id` has a key and `signature` is its valid signature over `data`.
  bool Verify(int64_t node_id, absl::string_view data, absl::string_view signature) const;

 private:
  struct Key;
  mutable std::mutex mu_;
  std::map<int64_t, std::unique_ptr<Key>> keys_;
};

}  // namespace resdb

#endif  // PLATFORM_COMMON_CRYPTO_SIGNATURE_H_
