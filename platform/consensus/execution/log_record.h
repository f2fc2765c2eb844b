#ifndef PLATFORM_CONSENSUS_EXECUTION_LOG_RECORD_H_
#define PLATFORM_CONSENSUS_EXECUTION_LOG_RECORD_H_

#include <cstdint>
#include <string>

#include "platform/proto/resdb.pb.h"

namespace resdb {

// The most records one LogQuery returns, and how many it returns when it does not say.
inline constexpr uint32_t kMaxLogQueryRecords = 1000;
inline constexpr uint32_t kDefaultLogQueryRecords = 20;

// How many records `query` asks for, within the bounds above.
uint32_t LogQueryLimit(const LogQuery& query);

// A LogRecord for the ordered entry at `index` whose data is `batch_data` (a serialized
// BatchUserRequest; anything else counts 0 requests).
LogRecord DescribeBatch(uint64_t index, uint64_t term, const std::string& kind,
                        const std::string& batch_data);

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_LOG_RECORD_H_
