#ifndef PLATFORM_CONSENSUS_REPLICA_PROTOCOL_THREAD_H_
#define PLATFORM_CONSENSUS_REPLICA_PROTOCOL_THREAD_H_

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace resdb {

// The one thread that owns a replica's protocol core, and the replica's lifecycle around it:
// started at most once and never after a stop; a stop may come from any thread, also before
// the start, and more than once.
class ProtocolThread {
 public:
  // `name` names the replica in errors ("raft consensus manager").
  explicit ProtocolThread(std::string name) : name_(std::move(name)) {}
  // Joins the thread; call BeginStop and make `loop` return first.
  ~ProtocolThread() { Join(); }

  ProtocolThread(const ProtocolThread&) = delete;
  ProtocolThread& operator=(const ProtocolThread&) = delete;

  // Runs `before` and, if it succeeds, starts `loop` on the thread. FailedPreconditionError
  // if started or stopping already; `before`'s error as it is.
  absl::Status Start(const std::function<absl::Status()>& before, std::function<void()> loop);
  // From now on stopping() is true and Start refuses.
  void BeginStop();
  // Waits for the loop to return (it must, once stopping() is true and its queue closed).
  void Join();
  bool stopping() const { return stopping_.load(); }

 private:
  const std::string name_;
  std::mutex mu_;
  bool started_ = false;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::mutex join_mu_;
  std::thread thread_;  // guarded by join_mu_ after Start
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_REPLICA_PROTOCOL_THREAD_H_
