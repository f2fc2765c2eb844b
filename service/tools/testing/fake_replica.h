#ifndef SERVICE_TOOLS_TESTING_FAKE_REPLICA_H_
#define SERVICE_TOOLS_TESTING_FAKE_REPLICA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "platform/proto/resdb.pb.h"
#include "service/tools/testing/closed_port.h"

namespace resdb {

// An in-process stand-in for a replica's ResDBService, for client tests: a gRPC server on
// 127.0.0.1 (a free port) whose Call either executes KV requests against its own in-memory
// store or misbehaves as told. Thread-safe.
class FakeReplica {
 public:
  explicit FakeReplica(int64_t id);
  ~FakeReplica();

  int64_t id() const;
  int port() const;

  // Executes each request with a KVExecutor and answers OK, naming itself leader (default).
  void Serve();
  // Answers every call NO_LEADER with `leader_hint` as leader_id (0: no hint).
  void AnswerNoLeader(int64_t leader_hint);
  // Answers every call with `status` and `error` and no data.
  void AnswerStatus(Response::Status status, const std::string& error);
  // Answers every call OK with `data` as the result instead of executing it: a replica whose
  // state diverged, or a Byzantine one.
  void AnswerData(const std::string& data);
  // Holds every call until the caller gives up (its deadline passes) or the fake is destroyed.
  void Hang();
  // Holds each answer `delay_ms` before sending it (0: none), so tests can order the answers of
  // several replicas. A call the caller cancels meanwhile is not executed.
  void SetDelayMs(int delay_ms);
  // The next `count` calls answer `status` and `error`; later ones follow the mode again.
  void FailNext(int count, Response::Status status, const std::string& error);

  // Every Request received so far, in arrival order.
  std::vector<Request> ReceivedRequests() const;
  // Calls the caller cancelled (or let expire) while this fake held them.
  int CancelledCalls() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace resdb

#endif  // SERVICE_TOOLS_TESTING_FAKE_REPLICA_H_
