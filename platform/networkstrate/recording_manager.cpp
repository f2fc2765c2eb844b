#include "platform/networkstrate/recording_manager.h"

#include <utility>

namespace resdb {
namespace testing_util {

RecordingManager::RecordingManager(const ResDBConfig& config, Stats* stats)
    : ConsensusManager(config, stats), replier_([this] { ReplierLoop(); }) {}

RecordingManager::~RecordingManager() { Stop(); }

absl::Status RecordingManager::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++start_calls_;
  }
  return ConsensusManager::Start();
}

void RecordingManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(replier_mu_);
    replier_stopping_ = true;
  }
  replier_cv_.notify_all();
  if (replier_.joinable()) replier_.join();
  ConsensusManager::Stop();
}

int RecordingManager::OnClientCall(std::unique_ptr<Context> context,
                                   std::unique_ptr<Request> request) {
  if (request->type() == Request::TYPE_CLIENT_REQUEST) {
    if (request->data() == "reject") return -1;
    if (request->data() == "reply") {
      std::lock_guard<std::mutex> lock(replier_mu_);
      to_reply_.push_back(std::move(context));
      replier_cv_.notify_one();
    }
    if (request->data() == "hold") {
      {
        std::lock_guard<std::mutex> lock(mu_);
        held_.push_back(std::move(context));
      }
      cv_.notify_all();
    }
    // "drop": the Context is destroyed on return.
    return 0;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    other_client_calls_.emplace_back(*request, context->caller_identity());
  }
  Response response;
  response.set_status(Response::OK);
  response.set_data(context->caller_identity());
  context->Reply(response);
  return 0;
}

int RecordingManager::OnReplicaMessage(std::unique_ptr<Request> request, ResDBMessage) {
  // A client request forwarded by a replica: there is no call to answer.
  if (request->type() == Request::TYPE_CLIENT_REQUEST) {
    return request->data() == "reject" ? -1 : 0;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (request->type() == Request::TYPE_HEART_BEAT) {
      ++heartbeats_;
    } else {
      requests_.push_back(std::move(*request));
    }
  }
  cv_.notify_all();
  return 0;
}

void RecordingManager::ReplierLoop() {
  std::unique_lock<std::mutex> lock(replier_mu_);
  while (true) {
    replier_cv_.wait(lock, [this] { return replier_stopping_ || !to_reply_.empty(); });
    if (to_reply_.empty()) return;
    std::unique_ptr<Context> context = std::move(to_reply_.front());
    to_reply_.pop_front();
    lock.unlock();
    Response response;
    response.set_status(Response::OK);
    response.set_data("echo");
    context->Reply(response);
    context.reset();
    lock.lock();
  }
}

bool RecordingManager::WaitUntil(const std::function<bool(const std::vector<Request>&, int)>& done,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return done(requests_, heartbeats_); });
}

bool RecordingManager::WaitForCount(size_t count, std::chrono::milliseconds timeout) {
  return WaitUntil(
      [count](const std::vector<Request>& requests, int) { return requests.size() >= count; },
      timeout);
}

bool RecordingManager::WaitForHeld(size_t count) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_.size() >= count; });
}

void RecordingManager::ReplyToHeld() {
  std::vector<std::unique_ptr<Context>> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held.swap(held_);
  }
  Response response;
  response.set_status(Response::OK);
  response.set_data("late");
  for (std::unique_ptr<Context>& context : held) context->Reply(response);
}

std::vector<std::pair<Request, std::string>> RecordingManager::other_client_calls() {
  std::lock_guard<std::mutex> lock(mu_);
  return other_client_calls_;
}

std::vector<Request> RecordingManager::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int RecordingManager::start_calls() {
  std::lock_guard<std::mutex> lock(mu_);
  return start_calls_;
}

}  // namespace testing_util
}  // namespace resdb
