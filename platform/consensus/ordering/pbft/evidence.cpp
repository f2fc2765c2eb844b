#include "platform/consensus/ordering/pbft/evidence.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/message_validator.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"

namespace resdb {
namespace pbft {
namespace {

size_t FaultsTolerated(int n) { return n > 0 ? static_cast<size_t>((n - 1) / 3) : 0; }

bool Matches(const Request& message, Request::Type type, const PreparedCertificate& cert) {
  return message.type() == type && message.view() == cert.view() && message.seq() == cert.seq() &&
         message.hash() == cert.digest();
}

}  // namespace

absl::Status OpenSigned(const SignedMessage& envelope, int n, const SignatureCheck& verify,
                        Request* out) {
  const int64_t signer = envelope.signer();
  if (signer < 1 || signer > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed message: signer ", signer, " is not a replica id in 1..", n));
  }
  if (verify && !verify(signer, envelope.data(), envelope.signature())) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed message: not signed by replica ", signer));
  }
  if (!out->ParseFromString(envelope.data()) || out->sender_id() != signer) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed message: not a message of replica ", signer));
  }
  return absl::OkStatus();
}

absl::Status CheckPreparedCertificate(const PreparedCertificate& cert, int64_t holder, int n,
                                      const SignatureCheck& verify) {
  const std::string what = absl::StrCat("prepared certificate for seq ", cert.seq(), " view ",
                                        cert.view(), " from replica ", holder);
  if (!cert.data().empty() && cert.digest() != BatchDigest(cert.data())) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": digest is not the batch's"));
  }
  const int64_t primary = MessageValidator::PrimaryOf(cert.view(), n);
  if (cert.has_pre_prepare()) {
    Request pre_prepare;
    absl::Status opened = OpenSigned(cert.pre_prepare(), n, verify, &pre_prepare);
    if (!opened.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", opened.message()));
    if (pre_prepare.sender_id() != primary ||
        !Matches(pre_prepare, Request::TYPE_PRE_PREPARE, cert)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": PRE_PREPARE is not the primary's for it"));
    }
  }
  std::set<int64_t> senders;
  for (const SignedMessage& envelope : cert.prepares()) {
    Request prepare;
    absl::Status opened = OpenSigned(envelope, n, verify, &prepare);
    if (!opened.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", opened.message()));
    if (prepare.sender_id() == primary || !Matches(prepare, Request::TYPE_PREPARE, cert) ||
        !senders.insert(prepare.sender_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": PREPARE of replica ", prepare.sender_id(), " is not a distinct match"));
    }
  }
  if (holder != primary) senders.insert(holder);
  if (senders.size() < 2 * FaultsTolerated(n)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", senders.size(), " PREPAREs, need ", 2 * FaultsTolerated(n)));
  }
  return absl::OkStatus();
}

absl::Status CheckStableCheckpoint(const StableCheckpoint& proof, int n,
                                   uint64_t checkpoint_interval, const SignatureCheck& verify) {
  if (proof.seq() == 0) return absl::OkStatus();
  const std::string what = absl::StrCat("stable checkpoint ", proof.seq());
  if (checkpoint_interval == 0 || proof.seq() % checkpoint_interval != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a multiple of the checkpoint interval ", checkpoint_interval));
  }
  std::set<int64_t> senders;
  for (const SignedMessage& envelope : proof.checkpoints()) {
    Request checkpoint;
    absl::Status opened = OpenSigned(envelope, n, verify, &checkpoint);
    if (!opened.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", opened.message()));
    if (checkpoint.type() != Request::TYPE_CHECKPOINT || checkpoint.seq() != proof.seq() ||
        checkpoint.hash() != proof.digest() || !senders.insert(checkpoint.sender_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": CHECKPOINT of replica ", checkpoint.sender_id(), " is not a distinct match"));
    }
  }
  const size_t quorum = 2 * FaultsTolerated(n) + 1;
  if (senders.size() < quorum) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", senders.size(), " CHECKPOINTs, need ", quorum));
  }
  return absl::OkStatus();
}

namespace {

// A signed vote (PREPARE or CHECKPOINT: ids, view, seq and a 32-byte digest) in its
// SignedMessage with a 64-byte Ed25519 signature, with the framing around it; generous.
constexpr int64_t kSignedVoteBytes = 192;
// Everything of a certificate, a Request or an envelope but its votes.
constexpr int64_t kFramingBytes = 128;

}  // namespace

int64_t MaxViewChangeBytes(int n, uint64_t window) {
  const int64_t f = static_cast<int64_t>(FaultsTolerated(n));
  const int64_t certificate = 2 * f * kSignedVoteBytes + kFramingBytes;
  return static_cast<int64_t>(window) * certificate + (2 * f + 1) * kSignedVoteBytes +
         kFramingBytes;
}

int64_t MaxNewViewBytes(int n, uint64_t window) {
  const int64_t f = static_cast<int64_t>(FaultsTolerated(n));
  // Each VIEWCHANGE in its signed envelope, and a PRE_PREPARE by digest per seq.
  return (2 * f + 1) * (MaxViewChangeBytes(n, window) + kFramingBytes) +
         static_cast<int64_t>(window) * kFramingBytes + kFramingBytes;
}

}  // namespace pbft
}  // namespace resdb
