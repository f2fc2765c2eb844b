#include "service/tools/testing/fake_replica.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "grpcpp/grpcpp.h"
#include "platform/proto/service.grpc.pb.h"
#include "platform/storage/memory_storage.h"
#include "service/kv/kv_executor.h"
#include "service/tools/testing/loopback_server.h"

namespace resdb {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

class FakeReplica::Impl final : public ResDBService::Service {
 public:
  explicit Impl(int64_t id) : id_(id), storage_(NewMemoryStorage()), executor_(storage_.get()) {
    server_ = StartLoopbackServer(this, &port_, "FakeReplica");
  }

  ~Impl() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutting_down_ = true;
    }
    cv_.notify_all();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
  }

  grpc::Status Call(grpc::ServerContext* context, const ResDBMessage* envelope,
                    Response* response) override {
    Request request;
    if (!request.ParseFromString(envelope->data())) {
      response->set_status(Response::INVALID_REQUEST);
      response->set_error("envelope does not hold a Request");
      return grpc::Status::OK;
    }
    std::unique_lock<std::mutex> lock(mu_);
    received_.push_back(request);
    response->set_replica_id(id_);
    if (fail_next_ > 0) {
      --fail_next_;
      response->set_status(fail_status_);
      response->set_error(fail_error_);
      return grpc::Status::OK;
    }
    if (mode_ == Mode::kHang) {
      Hold(lock, context, Clock::time_point::max());
      return grpc::Status(grpc::StatusCode::CANCELLED, "fake replica gave up waiting");
    }
    if (delay_ > std::chrono::milliseconds::zero() && !Hold(lock, context, Clock::now() + delay_)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "fake replica gave up waiting");
    }
    switch (mode_) {
      case Mode::kServe: {
        lock.unlock();
        std::unique_ptr<std::string> result = executor_.ExecuteData(request.data());
        response->set_status(Response::OK);
        response->set_leader_id(id_);
        response->set_data(*result);
        return grpc::Status::OK;
      }
      case Mode::kData:
        response->set_status(Response::OK);
        response->set_leader_id(id_);
        response->set_data(data_);
        return grpc::Status::OK;
      case Mode::kNoLeader:
        response->set_status(Response::NO_LEADER);
        response->set_leader_id(leader_hint_);
        return grpc::Status::OK;
      case Mode::kStatus:
        response->set_status(status_);
        response->set_error(error_);
        return grpc::Status::OK;
      case Mode::kHang:  // Held above.
        break;
    }
    return grpc::Status::OK;
  }

  enum class Mode { kServe, kData, kNoLeader, kStatus, kHang };

  void SetMode(Mode mode, int64_t leader_hint = 0, Response::Status status = Response::OK,
               const std::string& error = "", const std::string& data = "") {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = mode;
    leader_hint_ = leader_hint;
    status_ = status;
    error_ = error;
    data_ = data;
  }

  void SetDelay(std::chrono::milliseconds delay) {
    std::lock_guard<std::mutex> lock(mu_);
    delay_ = delay;
  }

  void FailNext(int count, Response::Status status, const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_ = count;
    fail_status_ = status;
    fail_error_ = error;
  }

  std::vector<Request> Received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

  int Cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  const int64_t id_;
  int port_ = 0;

 private:
  std::unique_ptr<Storage> storage_;
  KVExecutor executor_;
  std::unique_ptr<grpc::Server> server_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Mode mode_ = Mode::kServe;
  int64_t leader_hint_ = 0;
  Response::Status status_ = Response::OK;
  std::string error_;
  bool shutting_down_ = false;
  std::vector<Request> received_;
  std::string data_;
  std::chrono::milliseconds delay_{0};
  int fail_next_ = 0;
  Response::Status fail_status_ = Response::OK;
  std::string fail_error_;
  int cancelled_ = 0;

  // Holds a call until `until`. False when the caller cancels it first (counted) or the fake
  // shuts down. gRPC offers no wake-up on cancellation here, so check between short waits.
  bool Hold(std::unique_lock<std::mutex>& lock, grpc::ServerContext* context,
            Clock::time_point until) {
    while (!shutting_down_) {
      if (context->IsCancelled()) {
        ++cancelled_;
        return false;
      }
      const Clock::time_point now = Clock::now();
      if (now >= until) return true;
      cv_.wait_for(lock, std::min<Clock::duration>(until - now, std::chrono::milliseconds(10)));
    }
    return false;
  }
};

FakeReplica::FakeReplica(int64_t id) : impl_(std::make_unique<Impl>(id)) {}
FakeReplica::~FakeReplica() = default;

int64_t FakeReplica::id() const { return impl_->id_; }
int FakeReplica::port() const { return impl_->port_; }

void FakeReplica::Serve() { impl_->SetMode(Impl::Mode::kServe); }
void FakeReplica::AnswerNoLeader(int64_t leader_hint) {
  impl_->SetMode(Impl::Mode::kNoLeader, leader_hint);
}
void FakeReplica::AnswerStatus(Response::Status status, const std::string& error) {
  impl_->SetMode(Impl::Mode::kStatus, 0, status, error);
}
void FakeReplica::AnswerData(const std::string& data) {
  impl_->SetMode(Impl::Mode::kData, 0, Response::OK, "", data);
}
void FakeReplica::Hang() { impl_->SetMode(Impl::Mode::kHang); }
void FakeReplica::SetDelayMs(int delay_ms) {
  impl_->SetDelay(std::chrono::milliseconds(delay_ms > 0 ? delay_ms : 0));
}
void FakeReplica::FailNext(int count, Response::Status status, const std::string& error) {
  impl_->FailNext(count, status, error);
}

std::vector<Request> FakeReplica::ReceivedRequests() const { return impl_->Received(); }
int FakeReplica::CancelledCalls() const { return impl_->Cancelled(); }

}  // namespace resdb
