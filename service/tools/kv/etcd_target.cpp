#include "service/tools/kv/etcd_target.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "service/tools/kv/etcd/etcd_kv.grpc.pb.h"

namespace resdb {
namespace {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd: ", status.error_message()));
}

class EtcdTarget : public BenchmarkTarget {
 public:
  EtcdTarget(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
      : stub_(etcdserverpb::KV::NewStub(std::move(channel))), timeout_(timeout) {}

  absl::Status Set(const std::string& key, const std::string& value) override {
    etcdserverpb::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    etcdserverpb::PutResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    return FromGrpc(stub_->Put(&context, request, &response));
  }

  absl::StatusOr<std::string> Get(const std::string& key) override {
    etcdserverpb::RangeRequest request;
    request.set_key(key);
    etcdserverpb::RangeResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    absl::Status status = FromGrpc(stub_->Range(&context, request, &response));
    if (!status.ok()) return status;
    if (response.kvs_size() == 0) return absl::NotFoundError(absl::StrCat("etcd: no key ", key));
    return response.kvs(0).value();
  }

 private:
  std::unique_ptr<etcdserverpb::KV::Stub> stub_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<BenchmarkTarget> NewEtcdTarget(const std::string& endpoint,
                                               std::chrono::milliseconds timeout,
                                               const EtcdTls& tls) {
  if (tls.ca.empty()) {
    return std::make_unique<EtcdTarget>(
        grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()), timeout);
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.ca;
  options.pem_cert_chain = tls.cert;
  options.pem_private_key = tls.key;
  grpc::ChannelArguments arguments;
  if (!tls.server_name.empty()) arguments.SetSslTargetNameOverride(tls.server_name);
  return std::make_unique<EtcdTarget>(
      grpc::CreateCustomChannel(endpoint, grpc::SslCredentials(options), arguments), timeout);
}

}  // namespace resdb
