#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_REPLICA_CONFIG_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_REPLICA_CONFIG_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {

// The protocol clock in ms: fine enough that a view change takes ten ticks, and never coarser
// than the heartbeat.
int TickMs(const ResDBConfig& config);

// The replica's options from the config's pbft_config, in ticks of TickMs(config), without
// the evidence check (see WithEvidenceCheck).
PbftReplicaOptions OptionsFrom(const ResDBConfig& config);

// OK unless the largest NEWVIEW the config allows is above max_message_bytes: a view change
// must fit in one message, or the cluster could never replace its primary.
absl::Status CheckNewViewFits(const ResDBConfig& config);

// Whether every replica has a public key (with require_signatures). Replica keys are what make
// relayed evidence trustworthy; a cluster without them (plaintext test setups) checks evidence
// for form only (see PbftReplicaOptions::verify_signature).
bool HasReplicaKeys(const ResDBConfig& config);

// The replicas' public keys from their key files; null without HasReplicaKeys.
absl::StatusOr<std::unique_ptr<Verifier>> LoadReplicaKeys(const ResDBConfig& config);

// `options` checking relayed evidence with `*keys` (read at each check: the keys are loaded
// after the replica is built) and signing this replica's CHECKPOINTs with `sign`, when the
// config has replica keys; unchanged otherwise.
PbftReplicaOptions WithEvidenceCheck(PbftReplicaOptions options, const ResDBConfig& config,
                                     const std::unique_ptr<Verifier>* keys, SignatureMaker sign);

// PBFT's own messages, accepted from replicas only.
bool IsProtocolMessage(Request::Type type);

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_REPLICA_CONFIG_H_
