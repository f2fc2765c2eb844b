#include "platform/common/crypto/client_identity.h"

#include <utility>

namespace resdb {
namespace {

// Keeps client signatures apart from anything else signed with Ed25519.
constexpr absl::string_view kDomain = "resdb client request v1";

void AppendBigEndian64(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}

}  // namespace

uint64_t ClientIdOf(absl::string_view public_key) {
  const std::string digest = Sha256(public_key);
  uint64_t id = 0;
  for (size_t i = 0; i < 8 && i < digest.size(); ++i) {
    id = (id << 8) | static_cast<unsigned char>(digest[i]);
  }
  return id == 0 ? 1 : id;
}

std::string ClientSignedBytes(uint64_t client_id, uint64_t request_id, absl::string_view data) {
  std::string out;
  out.reserve(kDomain.size() + 16 + data.size());
  out.append(kDomain.data(), kDomain.size());
  AppendBigEndian64(client_id, &out);
  AppendBigEndian64(request_id, &out);
  out.append(data.data(), data.size());
  return out;
}

bool VerifyClientRequest(uint64_t client_id, uint64_t request_id, absl::string_view data,
                         absl::string_view public_key, absl::string_view signature) {
  return client_id != 0 && public_key.size() == 32 && ClientIdOf(public_key) == client_id &&
         VerifyWithPublicKey(public_key, ClientSignedBytes(client_id, request_id, data), signature);
}

ClientIdentity::ClientIdentity(std::unique_ptr<Signer> signer)
    : signer_(std::move(signer)),
      public_key_(signer_->PublicKey()),
      client_id_(ClientIdOf(public_key_)) {}

absl::StatusOr<std::unique_ptr<ClientIdentity>> ClientIdentity::Generate() {
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::Generate();
  if (!signer.ok()) return signer.status();
  return std::unique_ptr<ClientIdentity>(new ClientIdentity(*std::move(signer)));
}

absl::StatusOr<std::unique_ptr<ClientIdentity>> ClientIdentity::FromSeed(absl::string_view seed) {
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::FromSeed(seed);
  if (!signer.ok()) return signer.status();
  return std::unique_ptr<ClientIdentity>(new ClientIdentity(*std::move(signer)));
}

absl::StatusOr<std::unique_ptr<ClientIdentity>> ClientIdentity::LoadFromFile(
    const std::string& path) {
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::LoadFromFile(path);
  if (!signer.ok()) return signer.status();
  return std::unique_ptr<ClientIdentity>(new ClientIdentity(*std::move(signer)));
}

std::string ClientIdentity::Sign(uint64_t request_id, absl::string_view data) const {
  return signer_->Sign(ClientSignedBytes(client_id_, request_id, data));
}

}  // namespace resdb
