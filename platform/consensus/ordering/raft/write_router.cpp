#include "platform/consensus/ordering/raft/write_router.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace resdb {
namespace raft {
namespace {

uint64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void WriteRouter::Route(const UserRequest& request) {
  if (node_->role() == Role::kLeader) {
    sessions_->Queue(request);
    return;
  }
  const int64_t leader = node_->leader_id();
  if (leader == 0) {
    sessions_->Fail(request, respond_(Response::NO_LEADER, "no leader"));
    return;
  }
  if (sessions_->Forward(request, leader)) {
    metrics_->forwarded_requests->Increment();
  } else {
    metrics_->forward_dropped->Increment();
    sessions_->Fail(request,
                    respond_(Response::UNAVAILABLE, absl::StrCat("cannot reach leader ", leader)));
  }
}

void WriteRouter::Forwarded(UserRequest request) {
  if (node_->role() == Role::kLeader) {
    sessions_->Queue(std::move(request));
  } else {
    metrics_->forward_dropped->Increment();
  }
}

void WriteRouter::ProposeQueued() {
  if (!sessions_->HasQueued()) return;
  if (node_->role() != Role::kLeader) {
    for (const UserRequest& request : sessions_->TakeQueued()) {
      if (request.proxy_id() == self_id_) {
        Route(request);
      } else {
        metrics_->forward_dropped->Increment();
      }
    }
    return;
  }
  sessions_->ProposeQueued([this](BatchUserRequest& batch, size_t count) {
    batch.set_create_time_us(NowMicros());
    std::string data;
    batch.SerializeToString(&data);
    absl::StatusOr<uint64_t> index = node_->Propose(std::move(data));
    if (index.ok()) {
      metrics_->proposals->Increment();
      metrics_->proposed_requests->Increment(count);
      return true;
    }
    for (const UserRequest& request : batch.requests()) {
      if (request.proxy_id() != self_id_) continue;
      sessions_->Fail(request,
                      respond_(Response::UNAVAILABLE,
                               absl::StrCat("proposal refused: ", index.status().message())));
    }
    return true;
  });
}

bool WriteRouter::CheckLeaderChange() {
  const int64_t leader = node_->leader_id();
  if (leader == last_leader_) return false;
  LOG(INFO) << "raft replica " << self_id_ << ": leader " << last_leader_ << " -> " << leader
            << " in term " << node_->term();
  last_leader_ = leader;
  if (leader == 0) {
    sessions_->FailAll(respond_(Response::NO_LEADER, "no leader (leader lost)"));
    return true;
  }
  for (const UserRequest& request : sessions_->Pending()) Route(request);
  return true;
}

void WriteRouter::Retry(Clock::time_point now) {
  if (node_->role() == Role::kLeader) return;
  for (const UserRequest& request : sessions_->TakeDueForRetry(now, retry_)) Route(request);
}

}  // namespace raft
}  // namespace resdb
