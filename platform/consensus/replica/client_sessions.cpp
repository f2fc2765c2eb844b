#include "platform/consensus/replica/client_sessions.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "platform/consensus/execution/tracked_call.h"

namespace resdb {

ClientSessionsOptions ClientSessionsOptions::FromConfig(const ResDBConfig& config,
                                                        size_t max_pending) {
  ClientSessionsOptions options;
  options.self_id = config.GetSelfId();
  options.max_pending = max_pending;
  options.max_per_client = static_cast<size_t>(config.GetMaxPendingPerClient());
  options.timeout = std::chrono::milliseconds(std::max(1, config.GetClientTimeoutMs()));
  options.batch_requests = static_cast<size_t>(std::max(1, config.GetClientBatchNum()));
  options.batch_bytes = static_cast<size_t>(config.GetMaxBatchBytes());
  return options;
}

ClientSessions::ClientSessions(const ClientSessionsOptions& options,
                               const AppliedRequestTable* table, MakeResponse make_response,
                               Send send)
    : options_(options),
      table_(table),
      make_response_(std::move(make_response)),
      send_(std::move(send)),
      cutter_(options.batch_requests, options.batch_bytes),
      tracker_(options.max_pending, options.max_per_client) {}

bool ClientSessions::AnswerIfApplied(const UserRequest& request, Context* context) {
  std::optional<std::string> done = table_->Lookup(request.client_id(), request.request_id());
  if (!done.has_value()) return false;
  Response response = make_response_(Response::OK, "");
  response.set_data(std::move(*done));
  context->Reply(response);
  return true;
}

bool ClientSessions::Track(const UserRequest& request, std::unique_ptr<Context>* context) {
  // Looked up again after tracking: a request that executed since AnswerIfApplied would
  // otherwise wait for its deadline.
  const TrackOutcome outcome =
      TrackUnlessApplied(request, context, Clock::now() + options_.timeout, *table_,
                         make_response_(Response::OK, ""), &tracker_);
  switch (outcome) {
    case TrackOutcome::kFull:
    case TrackOutcome::kClientFull:
      (*context)->Reply(make_response_(Response::UNAVAILABLE, RefusalReason(outcome)));
      return false;
    case TrackOutcome::kAnswered:
      return false;
    case TrackOutcome::kTracked:
      break;
  }
  return true;
}

void ClientSessions::Fail(const UserRequest& request, const Response& response) {
  tracker_.Complete({request.client_id(), request.request_id()}, response);
}

bool ClientSessions::Forward(const UserRequest& request, int64_t to) {
  Request forward;
  forward.set_type(Request::TYPE_CLIENT_REQUEST);
  forward.set_sender_id(options_.self_id);
  forward.set_proxy_id(options_.self_id);
  forward.set_client_id(request.client_id());
  forward.set_request_id(request.request_id());
  forward.set_data(request.data());
  if (options_.forward_signatures) {
    forward.set_client_public_key(request.client_public_key());
    forward.set_client_signature(request.client_signature());
  }
  return send_(forward, to);
}

void ClientSessions::Queue(UserRequest request) { queued_.push_back(std::move(request)); }

size_t ClientSessions::ProposeQueued(const Propose& propose) {
  size_t next = 0;
  size_t batches = 0;
  while (next < queued_.size()) {
    const size_t end = cutter_.End(queued_, next);
    BatchUserRequest batch;
    for (size_t i = next; i < end; ++i) *batch.add_requests() = std::move(queued_[i]);
    if (!propose(batch, end - next)) {
      // Kept for the next round, as they were.
      for (size_t i = next; i < end; ++i) queued_[i] = std::move(*batch.mutable_requests(i - next));
      break;
    }
    ++batches;
    next = end;
  }
  queued_.erase(queued_.begin(), queued_.begin() + next);
  return batches;
}

std::vector<UserRequest> ClientSessions::TakeQueued() {
  std::vector<UserRequest> taken;
  taken.swap(queued_);
  return taken;
}

std::vector<UserRequest> ClientSessions::Pending() const { return tracker_.PendingRequests(); }

std::vector<UserRequest> ClientSessions::TakeDueForRetry(Clock::time_point now,
                                                         Clock::duration interval) {
  return tracker_.TakeDueForRetry(now, interval);
}

size_t ClientSessions::ExpireDue(Clock::time_point now, const std::string& error) {
  std::vector<ClientRequestTracker::Pending> expired = tracker_.TakeExpired(now);
  for (ClientRequestTracker::Pending& pending : expired) {
    pending.context->Reply(make_response_(Response::TIMEOUT, error));
  }
  return expired.size();
}

size_t ClientSessions::FailAll(const Response& response) { return tracker_.FailAll(response); }

void ClientSessions::AnswerExecuted(uint64_t seq, const BatchUserRequest& batch,
                                    const BatchUserResponse& responses) {
  if (tracker_.size() == 0) return;
  for (int i = 0; i < batch.requests_size(); ++i) {
    const UserRequest& request = batch.requests(i);
    const ClientRequestTracker::Key key(request.client_id(), request.request_id());
    if (!tracker_.Contains(key)) continue;
    Response answer = make_response_(Response::OK, "");
    if (i < responses.responses_size()) answer.set_data(responses.responses(i));
    answer.set_seq(seq);
    tracker_.Complete(key, answer);
  }
}

}  // namespace resdb
