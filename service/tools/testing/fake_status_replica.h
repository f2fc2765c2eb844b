#ifndef SERVICE_TOOLS_TESTING_FAKE_STATUS_REPLICA_H_
#define SERVICE_TOOLS_TESTING_FAKE_STATUS_REPLICA_H_

#include <memory>
#include <string>

#include "platform/proto/resdb.pb.h"
#include "service/tools/testing/closed_port.h"

namespace resdb {

// An in-process stand-in for a replica's ResDBService, for tests of status tools: a gRPC
// server on 127.0.0.1 (a free port) whose Call answers Request{type = TYPE_STATUS} with
// Response{status = OK, data = the ReplicaStatus it was given}. Requests of any other type
// are answered UNIMPLEMENTED. Thread-safe.
class FakeStatusReplica {
 public:
  explicit FakeStatusReplica(ReplicaStatus status);
  ~FakeStatusReplica();

  FakeStatusReplica(const FakeStatusReplica&) = delete;
  FakeStatusReplica& operator=(const FakeStatusReplica&) = delete;

  int port() const;

  // Answers TYPE_STATUS with `status` from now on (OK, the default mode).
  void SetStatus(ReplicaStatus status);
  // Answers every call with `status` and `error` and no data.
  void AnswerError(Response::Status status, const std::string& error);
  // Answers OK with `data` as given (for example bytes that are not a ReplicaStatus).
  void AnswerRawData(const std::string& data);
  // Holds every call until the caller's deadline passes or the fake is destroyed.
  void Hang();

  // Number of calls received so far.
  int calls() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace resdb

#endif  // SERVICE_TOOLS_TESTING_FAKE_STATUS_REPLICA_H_
