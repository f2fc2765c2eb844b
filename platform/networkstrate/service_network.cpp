#include "platform/networkstrate/service_network.h"

#include <glog/logging.h>
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/networkstrate/message_dispatcher.h"
#include "platform/networkstrate/network_address.h"
#include "platform/networkstrate/tls_credentials.h"
#include "platform/proto/service.grpc.pb.h"

namespace resdb {
namespace {

// How long Stop() lets in-flight client calls finish before cancelling them. Replica streams
// never end on their own, so any connected peer makes Stop() take this long.
constexpr std::chrono::milliseconds kShutdownGrace{300};

// Clients ping at most every 10 s (see peer_sender.cpp); allow pings at twice that rate so
// keepalive never earns a "too many pings" GOAWAY.
constexpr int kMinRecvPingIntervalMs = 5000;

// One client `Call`. The answer may come from any thread, at any time, through the reply
// channel of the Context the manager holds, or never (cancellation, shutdown): exactly one of
// those paths calls Finish, decided by `finished`. The Slot outlives the reactor, so a reply
// that loses the race (or comes after OnDone) touches nothing that was freed.
class CallReactor : public grpc::ServerUnaryReactor {
 public:
  struct Slot {
    std::atomic<bool> finished{false};
    CallReactor* reactor = nullptr;  // valid until Finish is called by the winner
    Response* response = nullptr;    // owned by gRPC, valid until OnDone
  };

  explicit CallReactor(Response* response) : slot_(std::make_shared<Slot>()) {
    slot_->reactor = this;
    slot_->response = response;
  }

  static void Complete(const std::shared_ptr<Slot>& slot, const Response& response) {
    if (slot->finished.exchange(true, std::memory_order_acq_rel)) return;
    *slot->response = response;
    // OnDone (which deletes the reactor) cannot run before this Finish.
    slot->reactor->Finish(grpc::Status::OK);
  }

  const std::shared_ptr<Slot>& slot() const { return slot_; }

  void OnCancel() override {
    if (slot_->finished.exchange(true, std::memory_order_acq_rel)) return;
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
  }

  void OnDone() override { delete this; }

 private:
  const std::shared_ptr<Slot> slot_;
};

// One replica `Stream`. Reads are strictly sequential (the next StartRead is issued after a
// batch is dispatched), and only OnReadDone touches the reactor's state, so it needs no lock;
// gRPC runs OnDone after the last OnReadDone has returned.
//
// Under TLS the stream belongs to the replica its certificate names. Membership can shrink
// while a stream stays open, so it is checked again before every batch.
class StreamReactor : public grpc::ServerReadReactor<ResDBMessageBatch> {
 public:
  StreamReactor(MessageDispatcher* dispatcher, StreamSummary* summary, std::string identity)
      : dispatcher_(dispatcher), summary_(summary), identity_(std::move(identity)) {
    if (!Admitted()) return;
    StartRead(&batch_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The peer closed or cancelled the stream, or the server is shutting down.
      summary_->set_received(received_);
      summary_->set_rejected(rejected_);
      Finish(grpc::Status::OK);
      return;
    }
    if (!Admitted()) return;
    for (ResDBMessage& envelope : *batch_.mutable_messages()) {
      if (dispatcher_->DispatchReplicaMessage(&envelope, channel_id_)) {
        ++received_;
      } else {
        ++rejected_;
      }
    }
    batch_.Clear();
    StartRead(&batch_);
  }

  void OnDone() override { delete this; }

 private:
  // False after finishing the stream when its peer is not (or no longer) a member.
  bool Admitted() {
    if (dispatcher_->AcceptReplicaStream(identity_, &channel_id_)) return true;
    LOG_EVERY_N(WARNING, 100) << "refused a replica stream from \"" << identity_
                              << "\": not a current member";
    Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("\"", identity_, "\" is not a member of this deployment")));
    return false;
  }

  MessageDispatcher* const dispatcher_;
  StreamSummary* const summary_;
  const std::string identity_;
  int64_t channel_id_ = 0;
  ResDBMessageBatch batch_;
  uint64_t received_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace

class ServiceNetwork::Service : public ResDBService::CallbackService {
 public:
  explicit Service(MessageDispatcher* dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context, const ResDBMessage* request,
                                 Response* response) override {
    auto* reactor = new CallReactor(response);
    std::shared_ptr<CallReactor::Slot> slot = reactor->slot();
    dispatcher_->DispatchClientCall(
        *request, [slot](const Response& answer) { CallReactor::Complete(slot, answer); },
        PeerIdentity(*context));
    return reactor;
  }

  grpc::ServerReadReactor<ResDBMessageBatch>* Stream(grpc::CallbackServerContext* context,
                                                     StreamSummary* summary) override {
    return new StreamReactor(dispatcher_, summary, PeerIdentity(*context));
  }

 private:
  MessageDispatcher* const dispatcher_;
};

ServiceNetwork::ServiceNetwork(const ResDBConfig& config, std::unique_ptr<ConsensusManager> manager,
                               Stats* stats)
    : config_(config),
      owned_stats_(stats == nullptr ? std::make_unique<Stats>() : nullptr),
      manager_(std::move(manager)),
      dispatcher_(std::make_unique<MessageDispatcher>(
          config, manager_.get(), stats == nullptr ? owned_stats_.get() : stats)) {}

ServiceNetwork::~ServiceNetwork() { Stop(); }

absl::Status ServiceNetwork::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kNew) {
    return absl::FailedPreconditionError("service network already started or stopped");
  }
  const ReplicaInfo& self = config_.GetSelfInfo();
  if (config_.GetSelfId() <= 0 || self.id() != config_.GetSelfId()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config has no replica with self id ", config_.GetSelfId()));
  }
  const std::string address = HostPort(self.ip(), self.port());
  const int max_bytes =
      static_cast<int>(std::min<int64_t>(config_.GetMaxMessageBytes(), INT32_MAX));

  auto credentials = MakeServerCredentials(config_);
  if (!credentials.ok()) return credentials.status();
  if (!config_.UsesTls()) {
    LOG(WARNING) << "replica " << config_.GetSelfId()
                 << " serves WITHOUT TLS (allow_plaintext): anyone who reaches " << address
                 << " can send messages in any replica's or client's name";
  }

  auto service = std::make_unique<Service>(dispatcher_.get());
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(address, *credentials, &bound_port);
  builder.RegisterService(service.get());
  builder.SetMaxReceiveMessageSize(max_bytes);
  builder.SetMaxSendMessageSize(max_bytes);
  // gRPC sets SO_REUSEPORT by default, which would let a second replica "bind" a port that is
  // already serving and silently share its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kMinRecvPingIntervalMs);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }

  absl::Status started = manager_->Start();
  if (!started.ok()) {
    server->Shutdown(std::chrono::system_clock::now());
    return absl::Status(started.code(),
                        absl::StrCat("replica at ", address,
                                     ": consensus manager failed to start: ", started.message()));
  }
  dispatcher_->SetAccepting(true);
  service_ = std::move(service);
  server_ = std::move(server);
  port_ = bound_port;
  state_ = State::kRunning;
  LOG(INFO) << "replica " << config_.GetSelfId() << " serving on "
            << HostPort(self.ip(), bound_port);
  return absl::OkStatus();
}

void ServiceNetwork::Stop() {
  std::unique_ptr<grpc::Server> server;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (state_ == State::kNew || state_ == State::kStopped) {
      state_ = State::kStopped;
      cv_.notify_all();
      return;
    }
    if (state_ == State::kStopping) {
      cv_.wait(lock, [this] { return state_ == State::kStopped; });
      return;
    }
    state_ = State::kStopping;
    server = std::move(server_);
  }

  dispatcher_->SetAccepting(false);
  // Returns once every call has finished: pending client calls are cancelled at the
  // deadline (CallReactor::OnCancel finishes them) and replica streams end with it.
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server->Wait();
  server.reset();
  manager_->Stop();

  std::lock_guard<std::mutex> lock(mu_);
  service_.reset();
  state_ = State::kStopped;
  cv_.notify_all();
}

void ServiceNetwork::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return state_ == State::kNew || state_ == State::kStopped; });
}

int ServiceNetwork::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return port_;
}

void ServiceNetwork::SetVerifier(std::shared_ptr<Verifier> verifier) {
  dispatcher_->SetVerifier(std::move(verifier));
}

}  // namespace resdb
