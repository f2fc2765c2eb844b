#include "platform/consensus/execution/client_request_tracker.h"

namespace resdb {

UserRequest ToUserRequest(Request* request, int64_t proxy_id) {
  UserRequest user_request;
  user_request.set_data(std::move(*request->mutable_data()));
  user_request.set_client_id(request->client_id());
  user_request.set_request_id(request->request_id());
  user_request.set_proxy_id(proxy_id);
  user_request.set_client_public_key(std::move(*request->mutable_client_public_key()));
  user_request.set_client_signature(std::move(*request->mutable_client_signature()));
  return user_request;
}

ClientRequestTracker::AddResult ClientRequestTracker::Add(const UserRequest& request,
                                                          std::unique_ptr<Context>* context,
                                                          Clock::time_point deadline) {
  std::unique_ptr<Context> replaced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Key key(request.client_id(), request.request_id());
    auto it = pending_.find(key);
    if (it == pending_.end()) {
      if (pending_.size() >= max_pending_) return AddResult::kFull;
      size_t& of_client = per_client_[request.client_id()];
      if (of_client >= max_per_client_) return AddResult::kClientFull;
      ++of_client;
      it = pending_.emplace(key, Pending()).first;
    } else {
      replaced = std::move(it->second.context);
    }
    it->second.context = std::move(*context);
    it->second.request = request;
    it->second.deadline = deadline;
    it->second.routed_at = Clock::now();
  }
  if (replaced != nullptr) {
    Response response;
    response.set_status(Response::UNAVAILABLE);
    response.set_error("superseded by a retry of the same request");
    replaced->Reply(response);
  }
  return AddResult::kAdded;
}

std::map<ClientRequestTracker::Key, ClientRequestTracker::Pending>::iterator
ClientRequestTracker::Erase(std::map<Key, Pending>::iterator it) {
  auto count = per_client_.find(it->first.first);
  if (count != per_client_.end() && --count->second == 0) per_client_.erase(count);
  return pending_.erase(it);
}

bool ClientRequestTracker::Complete(const Key& key, const Response& response) {
  std::unique_ptr<Context> context;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(key);
    if (it == pending_.end()) return false;
    context = std::move(it->second.context);
    Erase(it);
  }
  if (context != nullptr) context->Reply(response);
  return true;
}

size_t ClientRequestTracker::FailAll(const Response& response) {
  std::map<Key, Pending> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken.swap(pending_);
    per_client_.clear();
  }
  for (auto& [key, pending] : taken) {
    if (pending.context != nullptr) pending.context->Reply(response);
  }
  return taken.size();
}

std::vector<ClientRequestTracker::Pending> ClientRequestTracker::TakeExpired(
    Clock::time_point now) {
  std::vector<Pending> expired;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      expired.push_back(std::move(it->second));
      it = Erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

std::vector<UserRequest> ClientRequestTracker::PendingRequests() const {
  std::vector<UserRequest> requests;
  std::lock_guard<std::mutex> lock(mu_);
  requests.reserve(pending_.size());
  for (const auto& [key, pending] : pending_) requests.push_back(pending.request);
  return requests;
}

std::vector<UserRequest> ClientRequestTracker::TakeDueForRetry(Clock::time_point now,
                                                               Clock::duration interval) {
  std::vector<UserRequest> due;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, pending] : pending_) {
    if (pending.routed_at + interval <= now) {
      pending.routed_at = now;
      due.push_back(pending.request);
    }
  }
  return due;
}

bool ClientRequestTracker::Contains(const Key& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.count(key) > 0;
}

size_t ClientRequestTracker::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

}  // namespace resdb
