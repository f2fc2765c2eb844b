#include "platform/consensus/execution/tracked_call.h"

#include <optional>
#include <string>
#include <utility>

namespace resdb {

TrackOutcome TrackUnlessApplied(const UserRequest& request, std::unique_ptr<Context>* context,
                                ClientRequestTracker::Clock::time_point deadline,
                                const AppliedRequestTable& table, Response answered,
                                ClientRequestTracker* tracker) {
  switch (tracker->Add(request, context, deadline)) {
    case ClientRequestTracker::AddResult::kFull:
      return TrackOutcome::kFull;
    case ClientRequestTracker::AddResult::kClientFull:
      return TrackOutcome::kClientFull;
    case ClientRequestTracker::AddResult::kAdded:
      break;
  }
  std::optional<std::string> done = table.Lookup(request.client_id(), request.request_id());
  if (!done.has_value()) return TrackOutcome::kTracked;
  answered.set_data(std::move(*done));
  tracker->Complete({request.client_id(), request.request_id()}, answered);
  return TrackOutcome::kAnswered;
}

const char* RefusalReason(TrackOutcome outcome) {
  switch (outcome) {
    case TrackOutcome::kFull:
      return "too many pending requests";
    case TrackOutcome::kClientFull:
      return "too many pending requests of this client";
    default:
      return "";
  }
}

}  // namespace resdb
