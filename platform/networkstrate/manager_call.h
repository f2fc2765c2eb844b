#ifndef PLATFORM_NETWORKSTRATE_MANAGER_CALL_H_
#define PLATFORM_NETWORKSTRATE_MANAGER_CALL_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "platform/networkstrate/consensus_manager.h"
#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {

// For tests: one client call handed straight to a consensus manager, as the transport hands
// it, and its answer. Outlives the manager's reply.
class ManagerCall {
 public:
  ManagerCall(ConsensusManager* manager, const Request& request) {
    auto context = std::make_unique<Context>(SignatureInfo(), "", [this](const Response& r) {
      std::lock_guard<std::mutex> lock(mu_);
      response_ = r;
      done_ = true;
      cv_.notify_all();
    });
    manager->OnClientCall(std::move(context), std::make_unique<Request>(request));
  }

  // The answer; a default Response (and done() false) if none came within `timeout`.
  Response Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return done_; });
    return response_;
  }

  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Response response_;
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_MANAGER_CALL_H_
