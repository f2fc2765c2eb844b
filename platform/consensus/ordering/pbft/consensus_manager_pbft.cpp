#include "platform/consensus/ordering/pbft/consensus_manager_pbft.h"

#include <glog/logging.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"

namespace resdb {
namespace {

constexpr size_t kMaxPendingRequests = 20000;
constexpr size_t kMaxQueuedWork = 100000;

pbft::PbftReplicaOptions OptionsFrom(const ResDBConfig& config, int tick_ms) {
  const PbftConfig& pbft = config.GetPbftConfig();
  pbft::PbftReplicaOptions options;
  options.checkpoint_interval = static_cast<uint64_t>(std::max(1, pbft.checkpoint_interval()));
  options.watermark_window = std::max<uint64_t>(
      options.checkpoint_interval, static_cast<uint64_t>(std::max(1, pbft.watermark_window())));
  if (pbft.enable_view_change()) {
    options.view_change_timeout_ticks =
        static_cast<uint64_t>(std::max(1, pbft.view_change_timeout_ms() / std::max(1, tick_ms)));
  } else {
    options.view_change_timeout_ticks = std::numeric_limits<uint64_t>::max();
  }
  return options;
}

bool IsProtocolMessage(Request::Type type) {
  switch (type) {
    case Request::TYPE_PRE_PREPARE:
    case Request::TYPE_PREPARE:
    case Request::TYPE_COMMIT:
    case Request::TYPE_CHECKPOINT:
    case Request::TYPE_VIEWCHANGE:
    case Request::TYPE_NEWVIEW:
      return true;
    default:
      return false;
  }
}

}  // namespace

ConsensusManagerPBFT::ConsensusManagerPBFT(const ResDBConfig& config,
                                           std::unique_ptr<TransactionManager> transaction_manager,
                                           Stats* stats)
    : ConsensusManager(config, stats),
      self_id_(config.GetSelfId()),
      tick_(std::max(1, config.GetHeartBeatIntervalMs())),
      client_timeout_(std::max(1, config.GetClientTimeoutMs())),
      batch_limit_(static_cast<size_t>(std::max(1, config.GetClientBatchNum()))),
      replica_(config.GetSelfId(), config.GetReplicaNum(),
               OptionsFrom(config, std::max(1, config.GetHeartBeatIntervalMs()))),
      tracker_(kMaxPendingRequests),
      queue_(kMaxQueuedWork) {
  Stats* s = this->stats();
  proposals_ = s->GetCounter("pbft_proposals");
  proposed_requests_ = s->GetCounter("pbft_proposed_requests");
  forwarded_requests_ = s->GetCounter("pbft_forwarded_requests");
  queue_dropped_ = s->GetCounter("pbft_queue_dropped");
  rejected_messages_ = s->GetCounter("pbft_rejected_messages");
  request_timeouts_ = s->GetCounter("pbft_request_timeouts");
  executor_ = std::make_unique<TransactionExecutor>(
      config, std::move(transaction_manager),
      [this](std::unique_ptr<Request> request, std::unique_ptr<BatchUserResponse> response) {
        OnExecuted(std::move(request), std::move(response));
      },
      1, this->stats());
  PublishState();
}

ConsensusManagerPBFT::~ConsensusManagerPBFT() { Stop(); }

absl::Status ConsensusManagerPBFT::Start() {
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (started_ || stopping_) {
      return absl::FailedPreconditionError("pbft consensus manager already started or stopped");
    }
    started_ = true;
  }
  absl::Status status = ConsensusManager::Start();
  if (!status.ok()) return status;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void ConsensusManagerPBFT::Stop() {
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    stopping_ = true;
  }
  stopping_flag_.store(true);
  queue_.Close();
  if (executor_ != nullptr) executor_->Stop();
  if (thread_.joinable()) thread_.join();
  tracker_.FailAll(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
  ConsensusManager::Stop();
}

Response ConsensusManagerPBFT::MakeResponse(Response::Status status,
                                            const std::string& error) const {
  Response response;
  response.set_status(status);
  response.set_error(error);
  response.set_replica_id(self_id_);
  response.set_leader_id(primary_.load());
  return response;
}

bool ConsensusManagerPBFT::Enqueue(Work work) {
  if (!queue_.TryPush(std::move(work))) {
    queue_dropped_->Increment();
    return false;
  }
  return true;
}

int ConsensusManagerPBFT::ConsensusCommit(std::unique_ptr<Context> context,
                                          std::unique_ptr<Request> request) {
  if (request == nullptr) return -1;
  if (AnswerStatusRequest(*request, context.get())) return 0;
  const bool from_client = context != nullptr && context->CanReply();
  if (IsProtocolMessage(request->type())) {
    if (from_client) {
      context->Reply(
          MakeResponse(Response::INVALID_REQUEST, "pbft messages are accepted from replicas only"));
      return -1;
    }
    Work work;
    work.kind = Work::kMessage;
    work.message = std::move(*request);
    return Enqueue(std::move(work)) ? 0 : -1;
  }
  switch (request->type()) {
    case Request::TYPE_CLIENT_REQUEST:
    case Request::TYPE_QUERY: {
      if (!from_client) {
        // A request another replica forwards to this one as primary.
        if (request->type() != Request::TYPE_CLIENT_REQUEST || request->proxy_id() <= 0 ||
            request->client_id() == 0) {
          rejected_messages_->Increment();
          return -1;
        }
        Work work;
        work.kind = Work::kWrite;
        work.request.set_data(std::move(*request->mutable_data()));
        work.request.set_client_id(request->client_id());
        work.request.set_request_id(request->request_id());
        work.request.set_proxy_id(request->proxy_id());
        return Enqueue(std::move(work)) ? 0 : -1;
      }
      HandleClientRequest(std::move(context), std::move(request));
      return 0;
    }
    case Request::TYPE_HEART_BEAT:
      return 0;
    default:
      if (from_client) {
        context->Reply(MakeResponse(
            Response::UNIMPLEMENTED,
            absl::StrCat("pbft replicas do not serve ", Request::Type_Name(request->type()))));
      }
      return -1;
  }
}

void ConsensusManagerPBFT::HandleClientRequest(std::unique_ptr<Context> context,
                                               std::unique_ptr<Request> request) {
  if (request->client_id() == 0) {
    context->Reply(MakeResponse(Response::INVALID_REQUEST, "a request needs a non-zero client_id"));
    return;
  }
  const UserRequest user_request = raft::ToUserRequest(request.get(), self_id_);
  if (!tracker_.Add(user_request, &context, Clock::now() + client_timeout_)) {
    context->Reply(MakeResponse(Response::UNAVAILABLE, "too many pending requests"));
    return;
  }
  Work work;
  work.kind = Work::kWrite;
  work.request = user_request;
  if (!Enqueue(std::move(work))) {
    tracker_.Complete({user_request.client_id(), user_request.request_id()},
                      MakeResponse(Response::UNAVAILABLE, "replica overloaded"));
  }
}

void ConsensusManagerPBFT::Loop() {
  Clock::time_point next_tick = Clock::now() + tick_;
  std::vector<Work> work;
  while (true) {
    if (!queue_.WaitForItems(next_tick)) return;
    work = queue_.PopAll(kMaxQueuedWork);
    for (Work& item : work) HandleWork(item);
    work.clear();

    const Clock::time_point now = Clock::now();
    if (now >= next_tick) {
      replica_.Tick();
      next_tick = now + tick_;
      for (auto& expired : tracker_.TakeExpired(now)) {
        request_timeouts_->Increment();
        expired.context->Reply(MakeResponse(
            Response::TIMEOUT, absl::StrCat("request not executed within the ",
                                            client_timeout_.count(), " ms client timeout")));
      }
    }
    // A new primary: requests this replica holds go to it.
    if (replica_.view_active() && replica_.primary() != last_primary_) {
      last_primary_ = replica_.primary();
      if (last_primary_ != 0) {
        for (const UserRequest& request : tracker_.PendingRequests()) RouteWrite(request);
      }
    }
    ProposePending();
    DrainActions();
    PublishState();
  }
}

void ConsensusManagerPBFT::HandleWork(Work& work) {
  switch (work.kind) {
    case Work::kMessage: {
      absl::Status status = replica_.Step(work.message);
      if (!status.ok()) {
        rejected_messages_->Increment();
        VLOG(1) << "pbft replica " << self_id_ << ": refused "
                << Request::Type_Name(work.message.type()) << " from " << work.message.sender_id()
                << ": " << status;
      }
      break;
    }
    case Work::kWrite:
      RouteWrite(work.request);
      break;
    case Work::kExecuted:
      replica_.OnExecuted(work.seq, std::move(work.digest));
      break;
  }
}

void ConsensusManagerPBFT::RouteWrite(const UserRequest& request) {
  if (replica_.is_primary()) {
    if (replica_.view_active()) pending_proposals_.push_back(request);
    return;
  }
  // A request forwarded by another replica while this one is not primary is dropped; the
  // replica holding its Context routes it again when a primary appears, or it times out.
  if (request.proxy_id() != self_id_) return;
  if (!replica_.view_active()) return;
  Request forward;
  forward.set_type(Request::TYPE_CLIENT_REQUEST);
  forward.set_sender_id(self_id_);
  forward.set_proxy_id(self_id_);
  forward.set_client_id(request.client_id());
  forward.set_request_id(request.request_id());
  forward.set_data(request.data());
  if (GetCommunicator()->SendMessage(forward, replica_.primary())) {
    forwarded_requests_->Increment();
  }
}

void ConsensusManagerPBFT::ProposePending() {
  if (pending_proposals_.empty()) return;
  if (!replica_.is_primary() || !replica_.view_active()) {
    pending_proposals_.clear();
    return;
  }
  size_t next = 0;
  while (next < pending_proposals_.size()) {
    BatchUserRequest batch;
    const size_t end = std::min(pending_proposals_.size(), next + batch_limit_);
    for (size_t i = next; i < end; ++i) *batch.add_requests() = pending_proposals_[i];
    absl::Status status = replica_.Propose(batch.SerializeAsString());
    if (!status.ok()) break;  // above the high watermark: retry later
    proposals_->Increment();
    proposed_requests_->Increment(end - next);
    next = end;
  }
  pending_proposals_.erase(pending_proposals_.begin(), pending_proposals_.begin() + next);
}

void ConsensusManagerPBFT::DrainActions() {
  while (replica_.HasActions()) {
    pbft::Actions actions = replica_.TakeActions();
    for (const Request& message : actions.broadcast) GetCommunicator()->BroadCast(message);
    for (auto& [seq, data] : actions.execute) {
      auto request = std::make_unique<Request>();
      request->set_type(Request::TYPE_CLIENT_REQUEST);
      request->set_seq(seq);
      request->set_view(replica_.view());
      request->set_data(std::move(data));
      absl::Status status = executor_->Commit(std::move(request));
      if (!status.ok() && !stopping_flag_.load()) {
        LOG(WARNING) << "pbft replica " << self_id_ << ": executor refused seq " << seq << ": "
                     << status;
      }
    }
  }
}

void ConsensusManagerPBFT::PublishState() {
  primary_.store(replica_.view_active() ? replica_.primary() : 0);
  view_.store(replica_.view());
  is_primary_.store(replica_.is_primary());
  stable_checkpoint_.store(replica_.stable_checkpoint());
}

void ConsensusManagerPBFT::OnExecuted(std::unique_ptr<Request> request,
                                      std::unique_ptr<BatchUserResponse> response) {
  const uint64_t seq = request->seq();
  state_digest_ = pbft::BatchDigest(absl::StrCat(state_digest_, response->SerializeAsString()));
  executed_seq_.store(seq);
  if (tracker_.size() > 0 && !request->data().empty()) {
    BatchUserRequest user_requests;
    if (user_requests.ParseFromString(request->data())) {
      for (int i = 0; i < user_requests.requests_size(); ++i) {
        const UserRequest& user_request = user_requests.requests(i);
        if (user_request.proxy_id() != self_id_) continue;
        const raft::ClientRequestTracker::Key key(user_request.client_id(),
                                                  user_request.request_id());
        Response answer = MakeResponse(Response::OK, "");
        if (i < response->responses_size()) answer.set_data(response->responses(i));
        answer.set_seq(seq);
        tracker_.Complete(key, answer);
      }
    }
  }
  Work work;
  work.kind = Work::kExecuted;
  work.seq = seq;
  work.digest = state_digest_;
  Enqueue(std::move(work));
}

ReplicaStatus ConsensusManagerPBFT::GetStatus() {
  ReplicaStatus status = ConsensusManager::GetStatus();
  status.set_role(is_primary_.load() ? "primary" : "backup");
  status.set_view(view_.load());
  status.set_primary_id(primary_.load());
  status.set_executed_seq(executed_seq_.load());
  status.set_stable_checkpoint(stable_checkpoint_.load());
  auto& metrics = *status.mutable_metrics();
  for (const char* name :
       {"pbft_proposals", "pbft_proposed_requests", "pbft_forwarded_requests", "pbft_queue_dropped",
        "pbft_rejected_messages", "pbft_request_timeouts"}) {
    metrics[name] = static_cast<int64_t>(stats()->CounterValue(name));
  }
  metrics["pbft_pending_requests"] = static_cast<int64_t>(tracker_.size());
  return status;
}

}  // namespace resdb
