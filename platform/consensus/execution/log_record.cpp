#include "platform/consensus/execution/log_record.h"

#include <algorithm>

namespace resdb {

uint32_t LogQueryLimit(const LogQuery& query) {
  if (query.max_records() == 0) return kDefaultLogQueryRecords;
  return std::min(query.max_records(), kMaxLogQueryRecords);
}

LogRecord DescribeBatch(uint64_t index, uint64_t term, const std::string& kind,
                        const std::string& batch_data) {
  LogRecord record;
  record.set_index(index);
  record.set_term(term);
  record.set_kind(kind);
  record.set_bytes(batch_data.size());
  BatchUserRequest batch;
  if (!batch_data.empty() && batch.ParseFromString(batch_data)) {
    record.set_requests(static_cast<uint32_t>(batch.requests_size()));
  }
  return record;
}

}  // namespace resdb
