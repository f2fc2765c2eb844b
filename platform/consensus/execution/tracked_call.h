#ifndef PLATFORM_CONSENSUS_EXECUTION_TRACKED_CALL_H_
#define PLATFORM_CONSENSUS_EXECUTION_TRACKED_CALL_H_

#include <memory>

#include "platform/consensus/execution/applied_request_table.h"
#include "platform/consensus/execution/client_request_tracker.h"
#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {

enum class TrackOutcome {
  kTracked,     // answered later, when the request executes, fails or expires
  kAnswered,    // it executed meanwhile: answered now from the table
  kFull,        // the tracker is full; `*context` is untouched
  kClientFull,  // the client has as many pending requests as one may; `*context` is untouched
};

// What a refused call (kFull, kClientFull) is answered with, as UNAVAILABLE.
const char* RefusalReason(TrackOutcome outcome);

// Tracks the client call `*context` for `request` until `deadline`, then looks the request up
// in `table` once more: the executor records a response in the table before it completes
// tracked calls, so a request that executed between the caller's own lookup and the tracking
// is answered now (with `answered`, its data set to the recorded response) instead of waiting
// for its deadline.
TrackOutcome TrackUnlessApplied(const UserRequest& request, std::unique_ptr<Context>* context,
                                ClientRequestTracker::Clock::time_point deadline,
                                const AppliedRequestTable& table, Response answered,
                                ClientRequestTracker* tracker);

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_TRACKED_CALL_H_
