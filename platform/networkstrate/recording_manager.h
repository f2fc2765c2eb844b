#ifndef PLATFORM_NETWORKSTRATE_RECORDING_MANAGER_H_
#define PLATFORM_NETWORKSTRATE_RECORDING_MANAGER_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/networkstrate/consensus_manager.h"

namespace resdb {
namespace testing_util {

// A ConsensusManager for transport tests. It records every replica Request it receives and
// answers client requests by their `data`:
//   "reply"  -> answered OK with data "echo" from a separate replier thread;
//   "drop"   -> accepted, and the Context dropped without an answer;
//   "reject" -> rejected (returns -1);
//   "hold"   -> accepted, and the Context kept until ReplyToHeld().
// Client calls of other types (admin, status, queries) are recorded with the caller's identity
// and answered OK with that identity as data. Heartbeats are counted, not recorded.
class RecordingManager : public ConsensusManager {
 public:
  RecordingManager(const ResDBConfig& config, Stats* stats);
  ~RecordingManager() override;

  absl::Status Start() override;
  void Stop() override;

  int OnClientCall(std::unique_ptr<Context> context, std::unique_ptr<Request> request) override;
  int OnReplicaMessage(std::unique_ptr<Request> request, ResDBMessage envelope) override;
  int64_t GetPrimary() override { return 0; }
  uint64_t GetVersion() override { return 0; }

  // Waits up to `timeout` until `done(recorded requests, heartbeats received)` holds; true if
  // it did. `done` runs under the manager's lock.
  bool WaitUntil(const std::function<bool(const std::vector<Request>&, int)>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool WaitForCount(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Waits up to 10 s until `count` client Contexts are held.
  bool WaitForHeld(size_t count);
  // Answers every held Context with OK "late" and releases it.
  void ReplyToHeld();

  std::vector<Request> requests();
  // Client calls other than TYPE_CLIENT_REQUEST, with the Context's caller_identity().
  std::vector<std::pair<Request, std::string>> other_client_calls();
  int start_calls();

 private:
  void ReplierLoop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;                                    // guarded by mu_
  std::vector<std::pair<Request, std::string>> other_client_calls_;  // guarded by mu_
  int heartbeats_ = 0;                                               // guarded by mu_
  int start_calls_ = 0;                                              // guarded by mu_
  std::vector<std::unique_ptr<Context>> held_;                       // guarded by mu_

  std::mutex replier_mu_;
  std::condition_variable replier_cv_;
  std::deque<std::unique_ptr<Context>> to_reply_;  // guarded by replier_mu_
  bool replier_stopping_ = false;                  // guarded by replier_mu_
  std::thread replier_;
};

}  // namespace testing_util
}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_RECORDING_MANAGER_H_
