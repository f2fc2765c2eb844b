#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_EVIDENCE_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_EVIDENCE_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {

// True only if `signature` is replica `node`'s signature over `data`. Called on the thread
// that calls the replica; must not call back into it.
using SignatureCheck =
    std::function<bool(int64_t node, absl::string_view data, absl::string_view signature)>;

// This replica's signature over `data`, made with the key the transport signs its messages
// with, so that evidence it keeps of its own votes can be relayed like others'. Called on the
// thread that calls the replica.
using SignatureMaker = std::function<std::string(absl::string_view data)>;

// Checks of the evidence one replica relays to another: messages that a third replica
// signed. Each function refuses with InvalidArgument, naming the rule broken.
//
// With `verify` unset (a cluster without replica keys), signatures are not looked at; the
// rest of each check still applies, so evidence is consistent but not proven.

// Opens `envelope`: `signer` is a replica id in 1..n, `verify` accepts the signature over
// `data`, and `data` parses as a Request whose sender_id is `signer`.
absl::Status OpenSigned(const SignedMessage& envelope, int n, const SignatureCheck& verify,
                        Request* out);

// A prepared certificate that `holder` presents (in its VIEWCHANGE) proves that 2f+1
// replicas accepted (view, seq, digest): `digest` is BatchDigest(data) when the data is
// there (a VIEWCHANGE names batches by digest only); the PRE_PREPARE, when
// present, is the primary of `view`'s for (view, seq, digest); the PREPAREs are for (view,
// seq, digest) from distinct replicas other than that primary, and they number at least 2f
// with the holder's own, which its signature on the VIEWCHANGE vouches for. The PRE_PREPARE
// may be missing because a batch re-proposed through a NEWVIEW has none of its own: the 2f
// PREPAREs carry the proof, since at least f of them come from correct replicas that
// accepted that pre-prepare.
absl::Status CheckPreparedCertificate(const PreparedCertificate& cert, int64_t holder, int n,
                                      const SignatureCheck& verify);

// A stable checkpoint proves that 2f+1 replicas reported `digest` as the state after `seq`:
// its CHECKPOINTs open (OpenSigned), come from distinct replicas and are all for (seq,
// digest), and there are at least 2f+1 of them. Seq 0, the state before any batch, needs no
// proof; any other seq must be a multiple of `checkpoint_interval`.
absl::Status CheckStableCheckpoint(const StableCheckpoint& proof, int n,
                                   uint64_t checkpoint_interval, const SignatureCheck& verify);

// Upper bounds on the serialized size of a VIEWCHANGE and of a NEWVIEW Request among n
// replicas with a watermark window of `window` seqs: certificates name batches by digest,
// so neither depends on the batches' size. The config must let a NEWVIEW through in one
// message (see ConsensusManagerPBFT::Create).
int64_t MaxViewChangeBytes(int n, uint64_t window);
int64_t MaxNewViewBytes(int n, uint64_t window);

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_EVIDENCE_H_
