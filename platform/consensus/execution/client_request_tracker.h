#ifndef PLATFORM_CONSENSUS_EXECUTION_CLIENT_REQUEST_TRACKER_H_
#define PLATFORM_CONSENSUS_EXECUTION_CLIENT_REQUEST_TRACKER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {

// The client writes a replica received and has not answered yet, keyed by
// (client_id, request_id): the replica that holds a request's Context answers it when it
// applies the entry that contains the request, or when the request fails or expires.
// Bounded: Add refuses requests beyond `max_pending` in all, and beyond `max_per_client` of
// one client, so that one client cannot take every slot. Thread-safe.
// The client `request` as it is ordered: its payload (moved out of `request`), client id and
// request id, with `proxy_id` naming the replica that holds the client's call.
UserRequest ToUserRequest(Request* request, int64_t proxy_id);

class ClientRequestTracker {
 public:
  using Clock = std::chrono::steady_clock;
  using Key = std::pair<uint64_t, uint64_t>;  // (client_id, request_id)

  struct Pending {
    std::unique_ptr<Context> context;
    // The request as it is proposed: data, client_id, request_id.
    UserRequest request;
    Clock::time_point deadline;
    // When the request was last proposed or forwarded.
    Clock::time_point routed_at;
  };

  enum class AddResult {
    kAdded,
    kFull,        // max_pending requests are tracked
    kClientFull,  // max_per_client requests of this client are tracked
  };

  ClientRequestTracker(size_t max_pending, size_t max_per_client)
      : max_pending_(max_pending), max_per_client_(max_per_client) {}

  // Tracks `context` for `request` until `deadline`. A request with the same key already
  // tracked (a client retry) has its old Context answered UNAVAILABLE and replaced. When the
  // tracker refuses it, `context` is left untouched.
  AddResult Add(const UserRequest& request, std::unique_ptr<Context>* context,
                Clock::time_point deadline);

  // Answers and forgets the request with `key`, if tracked. True if it was.
  bool Complete(const Key& key, const Response& response);

  // Answers every tracked request with `response` (its error text and status) and forgets
  // them all. Returns how many were answered.
  size_t FailAll(const Response& response);

  // Forgets and returns the requests whose deadline is at or before `now`.
  std::vector<Pending> TakeExpired(Clock::time_point now);

  // Copies of every tracked request (to be proposed or forwarded again).
  std::vector<UserRequest> PendingRequests() const;

  // Copies of the requests last routed at or before now - `interval`; their routing time
  // becomes `now`.
  std::vector<UserRequest> TakeDueForRetry(Clock::time_point now, Clock::duration interval);

  bool Contains(const Key& key) const;
  size_t size() const;

 private:
  // Forgets `it`, keeping the per-client counts. Requires mu_.
  std::map<Key, Pending>::iterator Erase(std::map<Key, Pending>::iterator it);

  const size_t max_pending_;
  const size_t max_per_client_;
  mutable std::mutex mu_;
  std::map<Key, Pending> pending_;
  // Tracked requests per client id; clients with none are absent.
  std::map<uint64_t, size_t> per_client_;
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_CLIENT_REQUEST_TRACKER_H_
