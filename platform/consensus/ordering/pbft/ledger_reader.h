#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_LEDGER_READER_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_LEDGER_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/consensus/ordering/pbft/pbft_wal.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {

// Reads the ledger of committed batches for those who ask for it: an operator's log query, a
// lagging peer's FETCH, and this replica's own replay after a restart. Reads run on any
// thread (PbftWal's ledger reads do not wait for its writer).
class LedgerReader {
 public:
  // What one FETCH reply carries at most.
  static constexpr size_t kFetchReplyBatches = 64;
  static constexpr size_t kFetchReplyBytes = 4 << 20;

  // `wal` must outlive the reader.
  explicit LedgerReader(const PbftWal* wal) : wal_(wal) {}

  // The answer to a serialized LogQuery: InvalidArgumentError if it does not parse.
  absl::StatusOr<LogQueryResult> AnswerLogQuery(const std::string& query_data) const;

  // The batches a FETCH from `seq` is answered with.
  absl::StatusOr<std::vector<CommittedBatch>> ReadForFetch(uint64_t seq) const;

  // Hands every ledger entry after `executed`, in order, to `execute` until it returns false
  // or `stopped` returns true. An error if an entry cannot be read.
  absl::Status Replay(uint64_t executed, const std::function<bool(CommittedBatch)>& execute,
                      const std::function<bool()>& stopped) const;

 private:
  const PbftWal* const wal_;
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_LEDGER_READER_H_
