#include "platform/consensus/ordering/pbft/ledger_reader.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/consensus/execution/log_record.h"

namespace resdb {
namespace pbft {
namespace {

constexpr size_t kReplayChunkBatches = 256;

}  // namespace

absl::StatusOr<LogQueryResult> LedgerReader::AnswerLogQuery(const std::string& query_data) const {
  LogQuery query;
  if (!query.ParseFromString(query_data)) {
    return absl::InvalidArgumentError("log query: bad data");
  }
  LogQueryResult result;
  const uint64_t first = wal_->first_ledger_seq();
  const uint64_t last = wal_->last_committed();
  result.set_commit_index(last);
  result.set_first_index(first);
  result.set_last_index(last);
  const uint64_t from = std::max(first, query.first());
  if (last == 0 || from > last) return result;
  absl::StatusOr<std::vector<CommittedBatch>> batches =
      wal_->ReadLedger(from, LogQueryLimit(query), std::numeric_limits<size_t>::max());
  if (!batches.ok()) {
    return absl::InternalError(absl::StrCat("log query: ", batches.status().message()));
  }
  for (const CommittedBatch& batch : *batches) {
    *result.add_records() =
        DescribeBatch(batch.seq(), 0, batch.data().empty() ? "noop" : "normal", batch.data());
  }
  return result;
}

absl::StatusOr<std::vector<CommittedBatch>> LedgerReader::ReadForFetch(uint64_t seq) const {
  return wal_->ReadLedger(seq, kFetchReplyBatches, kFetchReplyBytes);
}

absl::Status LedgerReader::Replay(uint64_t executed,
                                  const std::function<bool(CommittedBatch)>& execute,
                                  const std::function<bool()>& stopped) const {
  const uint64_t last = wal_->last_committed();
  for (uint64_t seq = executed + 1; seq <= last && !stopped();) {
    absl::StatusOr<std::vector<CommittedBatch>> batches =
        wal_->ReadLedger(seq, kReplayChunkBatches, kFetchReplyBytes);
    if (!batches.ok()) return batches.status();
    if (batches->empty())
      return absl::NotFoundError(absl::StrCat("ledger entry ", seq, " missing"));
    for (CommittedBatch& batch : *batches) {
      seq = batch.seq() + 1;
      if (!execute(std::move(batch))) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace pbft
}  // namespace resdb
