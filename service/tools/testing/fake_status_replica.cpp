#include "service/tools/testing/fake_status_replica.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "grpcpp/grpcpp.h"
#include "platform/proto/service.grpc.pb.h"
#include "service/tools/testing/loopback_server.h"

namespace resdb {

class FakeStatusReplica::Impl final : public ResDBService::Service {
 public:
  enum class Mode { kStatus, kError, kRawData, kHang };

  explicit Impl(ReplicaStatus status) : status_(std::move(status)) {
    server_ = StartLoopbackServer(this, &port_, "FakeStatusReplica");
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
    std::unique_lock<std::mutex> lock(mu_);
    ++calls_;
    Request request;
    if (!request.ParseFromString(envelope->data())) {
      response->set_status(Response::INVALID_REQUEST);
      response->set_error("envelope does not hold a Request");
      return grpc::Status::OK;
    }
    response->set_replica_id(status_.id());
    switch (mode_) {
      case Mode::kStatus:
        if (request.type() != Request::TYPE_STATUS) {
          response->set_status(Response::UNIMPLEMENTED);
          response->set_error("the fake answers only TYPE_STATUS");
          return grpc::Status::OK;
        }
        response->set_status(Response::OK);
        status_.SerializeToString(response->mutable_data());
        return grpc::Status::OK;
      case Mode::kError:
        response->set_status(error_status_);
        response->set_error(error_);
        return grpc::Status::OK;
      case Mode::kRawData:
        response->set_status(Response::OK);
        response->set_data(raw_data_);
        return grpc::Status::OK;
      case Mode::kHang:
        // The caller's deadline cancels the call; check for that between short waits.
        while (!shutting_down_ && !context->IsCancelled()) {
          cv_.wait_for(lock, std::chrono::milliseconds(10));
        }
        return grpc::Status(grpc::StatusCode::CANCELLED, "fake replica gave up waiting");
    }
    return grpc::Status::OK;
  }

  void SetStatus(ReplicaStatus status) {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = Mode::kStatus;
    status_ = std::move(status);
  }
  void AnswerError(Response::Status status, const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = Mode::kError;
    error_status_ = status;
    error_ = error;
  }
  void AnswerRawData(const std::string& data) {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = Mode::kRawData;
    raw_data_ = data;
  }
  void Hang() {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = Mode::kHang;
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

  int port_ = 0;

 private:
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Mode mode_ = Mode::kStatus;
  ReplicaStatus status_;
  Response::Status error_status_ = Response::OK;
  std::string error_;
  std::string raw_data_;
  bool shutting_down_ = false;
  int calls_ = 0;
};

FakeStatusReplica::FakeStatusReplica(ReplicaStatus status)
    : impl_(std::make_unique<Impl>(std::move(status))) {}
FakeStatusReplica::~FakeStatusReplica() = default;

int FakeStatusReplica::port() const { return impl_->port_; }
void FakeStatusReplica::SetStatus(ReplicaStatus status) { impl_->SetStatus(std::move(status)); }
void FakeStatusReplica::AnswerError(Response::Status status, const std::string& error) {
  impl_->AnswerError(status, error);
}
void FakeStatusReplica::AnswerRawData(const std::string& data) { impl_->AnswerRawData(data); }
void FakeStatusReplica::Hang() { impl_->Hang(); }
int FakeStatusReplica::calls() const { return impl_->calls(); }

}  // namespace resdb
