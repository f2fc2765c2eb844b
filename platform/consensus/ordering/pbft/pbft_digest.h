#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_DIGEST_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_DIGEST_H_

#include <string>

#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {

// The digest that identifies an ordered batch in PRE_PREPARE / PREPARE / COMMIT messages:
// SHA-256 (32 raw bytes) of the serialized BatchUserRequest exactly as carried in
// Request.data.
std::string BatchDigest(const std::string& batch_data);

// BatchDigest of the empty batch, which a new view re-proposes at seqs nobody prepared.
const std::string& NullBatchDigest();

// True if `pre_prepare.hash` is present and equals BatchDigest(pre_prepare.data), i.e. the
// primary's announced digest really names the batch it sent.
bool DigestMatches(const Request& pre_prepare);

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_DIGEST_H_
