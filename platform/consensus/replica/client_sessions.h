#ifndef PLATFORM_CONSENSUS_REPLICA_CLIENT_SESSIONS_H_
#define PLATFORM_CONSENSUS_REPLICA_CLIENT_SESSIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "platform/config/resdb_config.h"
#include "platform/consensus/execution/applied_request_table.h"
#include "platform/consensus/execution/batch_cutter.h"
#include "platform/consensus/execution/client_request_tracker.h"
#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {

struct ClientSessionsOptions {
  int64_t self_id = 0;
  // Calls waiting for their request to execute, in all and per client.
  size_t max_pending = 20000;
  size_t max_per_client = 1000;
  // How long a call waits before it is answered TIMEOUT.
  std::chrono::milliseconds timeout{10000};
  // A proposed batch holds at most this many requests and serialized bytes (BatchCutter).
  size_t batch_requests = 100;
  size_t batch_bytes = 1 << 20;
  // Whether a forwarded request carries its client's key and signature, for a receiver that
  // checks them.
  bool forward_signatures = true;

  // The config's client settings (timeout, batch size and bytes, calls per client), with at
  // most `max_pending` calls waiting in all.
  static ClientSessionsOptions FromConfig(const ResDBConfig& config, size_t max_pending);
};

// The client side of a replica, the same under every protocol: it answers a retry of an
// applied request from the applied-request table, tracks the calls it holds until their
// request executes (or fails, or times out), forwards requests to the leader or primary,
// queues the requests this replica is to propose and cuts them into batches, and answers
// every call of an executed batch from the batch's responses. The protocol decides when a
// request is forwarded, queued or proposed; this class keeps the books.
//
// Threads: Admit, Fail and AnswerExecuted are thread-safe (transport and executor threads);
// the queue (Queue, ProposeQueued, TakeQueued) belongs to the protocol thread.
class ClientSessions {
 public:
  using Clock = ClientRequestTracker::Clock;
  // An answer with `status` and `error`, naming this replica and the leader it knows.
  using MakeResponse = std::function<Response(Response::Status status, const std::string& error)>;
  // Sends `message` to replica `to`; false if the transport refused it.
  using Send = std::function<bool(const Request& message, int64_t to)>;
  // Proposes one batch of `count` requests (it may change the batch, e.g. to stamp it). False
  // keeps the batch and what follows queued (the protocol cannot take more now); true when it
  // was proposed or the protocol answered its calls.
  using Propose = std::function<bool(BatchUserRequest& batch, size_t count)>;

  // `table` must outlive the sessions.
  ClientSessions(const ClientSessionsOptions& options, const AppliedRequestTable* table,
                 MakeResponse make_response, Send send);

  // Transport threads. Answers the call now if its request was applied already (a retry):
  // true. Call it once, before the protocol's own checks.
  bool AnswerIfApplied(const UserRequest& request, Context* context);
  // Tracks the call until its request executes or its deadline passes. True if tracked: the
  // caller hands the request to its protocol thread (and calls Fail if it cannot). False when
  // the call was answered: from the table (it executed meanwhile), or UNAVAILABLE because too
  // many calls wait.
  bool Track(const UserRequest& request, std::unique_ptr<Context>* context);
  // Answers the tracked call of `request` with `response`, if it is tracked.
  void Fail(const UserRequest& request, const Response& response);

  // Protocol thread. Sends a request whose call this replica holds to `to`, naming this
  // replica as its proxy. True if sent.
  bool Forward(const UserRequest& request, int64_t to);
  void Queue(UserRequest request);
  bool HasQueued() const { return !queued_.empty(); }
  // Cuts the queued requests into batches and hands them to `propose` in order, until it
  // refuses one. Returns how many batches it took.
  size_t ProposeQueued(const Propose& propose);
  // Empties the queue (this replica no longer proposes) and returns what it held.
  std::vector<UserRequest> TakeQueued();
  // Every tracked request (to be routed again to a new leader or primary).
  std::vector<UserRequest> Pending() const;
  // Tracked requests last routed `interval` or longer ago; they count as routed now.
  std::vector<UserRequest> TakeDueForRetry(Clock::time_point now, Clock::duration interval);
  // Answers TIMEOUT (with `error`) to the calls whose deadline passed. Returns how many.
  size_t ExpireDue(Clock::time_point now, const std::string& error);
  // Answers every tracked call with `response` (leader lost, replica stopping).
  size_t FailAll(const Response& response);

  // Executor thread: answers every tracked call of the batch executed at `seq`, the i-th
  // request with the i-th response.
  void AnswerExecuted(uint64_t seq, const BatchUserRequest& batch,
                      const BatchUserResponse& responses);

  size_t size() const { return tracker_.size(); }
  std::chrono::milliseconds timeout() const { return options_.timeout; }

 private:
  const ClientSessionsOptions options_;
  const AppliedRequestTable* const table_;
  const MakeResponse make_response_;
  const Send send_;
  const BatchCutter cutter_;
  ClientRequestTracker tracker_;
  std::vector<UserRequest> queued_;  // protocol thread only
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_REPLICA_CLIENT_SESSIONS_H_
