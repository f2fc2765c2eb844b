#include "platform/consensus/ordering/pbft/pbft_digest.h"

#include "platform/common/crypto/signature.h"

namespace resdb {
namespace pbft {

std::string BatchDigest(const std::string& batch_data) { return Sha256(batch_data); }

const std::string& NullBatchDigest() {
  static const std::string* const digest = new std::string(BatchDigest(""));
  return *digest;
}

bool DigestMatches(const Request& pre_prepare) {
  if (pre_prepare.hash().empty()) return false;
  return pre_prepare.hash() == BatchDigest(pre_prepare.data());
}

}  // namespace pbft
}  // namespace resdb
