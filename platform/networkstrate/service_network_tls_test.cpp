// Mutual TLS and admin rights at the transport: who gets an answer, whose streams are read,
// and whose admin requests reach the consensus manager.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/networkstrate/recording_manager.h"
#include "platform/networkstrate/replica_communicator.h"
#include "platform/networkstrate/service_network.h"
#include "platform/networkstrate/test_config.h"
#include "platform/networkstrate/tls_credentials.h"
#include "platform/proto/service.grpc.pb.h"

namespace resdb {
namespace {

using testing_util::MakeTestConfig;
using testing_util::RecordingManager;

constexpr int64_t kA = 1;
constexpr int64_t kB = 2;
// Holds a certificate of the cluster's CA but is not in the config.
constexpr int64_t kOutsider = 3;
constexpr int kUnusedPort = 1;
constexpr int kAdminCapMs = 60000;

// Where make_certs.sh put the certificates of the cluster's CA ("certs") and of an unrelated
// CA ("other"); made once per test binary.
std::string CertDir(const std::string& ca) {
  static const std::string root = [] {
    const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/tls");
    const std::string script =
        absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                     "/scripts/deploy/make_certs.sh");
    for (const std::string& command :
         {absl::StrCat("bash ", script, " ", dir,
                       "/certs replica-1 replica-2 replica-3 "
                       "client admin"),
          absl::StrCat("bash ", script, " ", dir, "/other client replica-1")}) {
      EXPECT_EQ(std::system(command.c_str()), 0) << command;
    }
    return dir;
  }();
  return absl::StrCat(root, "/", ca);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// TLS settings with the certificate `name` of CA directory `ca`.
TlsConfig Tls(const std::string& name, const std::string& ca = "certs") {
  TlsConfig tls;
  tls.set_ca_file(CertDir("certs") + "/ca.crt");
  tls.set_cert_file(absl::StrCat(CertDir(ca), "/", name, ".crt"));
  tls.set_key_file(absl::StrCat(CertDir(ca), "/", name, ".key"));
  return tls;
}

bool WaitFor(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

Request ReplicaRequest(int64_t sender, uint64_t seq) {
  Request request;
  request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
  request.set_sender_id(sender);
  request.set_seq(seq);
  return request;
}

Request AdminCall(int32_t timeout_ms) {
  AdminRequest admin;
  admin.mutable_transfer_leader()->set_to(kA);
  admin.set_timeout_ms(timeout_ms);
  Request request;
  request.set_type(Request::TYPE_ADMIN);
  admin.SerializeToString(request.mutable_data());
  return request;
}

Request ClientRequest(const std::string& data) {
  Request request;
  request.set_type(Request::TYPE_CLIENT_REQUEST);
  request.set_data(data);
  return request;
}

// Replica B (id 2) serving with TLS in a deployment of A and B, "admin" its admin identity.
class TlsServiceNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ResConfigData base;
    *base.mutable_tls() = Tls("replica-{id}");
    base.add_admin_identities("admin");
    base.set_max_admin_timeout_ms(kAdminCapMs);
    base.set_query_access(kQueryAccessAdmin);
    const ResDBConfig config = MakeTestConfig(kB, {{kA, kUnusedPort}, {kB, 0}}, base);
    auto manager = std::make_unique<RecordingManager>(config, &stats_);
    manager_ = manager.get();
    network_ = std::make_unique<ServiceNetwork>(config, std::move(manager), &stats_);
    absl::Status started = network_->Start();
    ASSERT_TRUE(started.ok()) << started;
    port_ = network_->port();
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", port_); }

  // A stub to B that verifies B's certificate names replica 2.
  std::unique_ptr<ResDBService::Stub> Stub(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(ReplicaIdentity(kB));
    return ResDBService::NewStub(grpc::CreateCustomChannel(Address(), credentials, args));
  }

  std::unique_ptr<ResDBService::Stub> ClientStub(const TlsConfig& tls) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(tls.ca_file());
    options.pem_cert_chain = ReadFile(tls.cert_file());
    options.pem_private_key = ReadFile(tls.key_file());
    return Stub(grpc::SslCredentials(options));
  }

  static grpc::Status Call(ResDBService::Stub* stub, const Request& request, Response* response) {
    ResDBMessage envelope;
    request.SerializeToString(envelope.mutable_data());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub->Call(&context, envelope, response);
  }

  // A's (or another replica's) send path to B under the certificate "replica-<self_id>".
  std::unique_ptr<ReplicaCommunicator> Sender(int64_t self_id) {
    ResConfigData base;
    *base.mutable_tls() = Tls("replica-{id}");
    auto sender = std::make_unique<ReplicaCommunicator>(
        MakeTestConfig(self_id, {{self_id, kUnusedPort}, {kB, port_}}, base), &sender_stats_);
    EXPECT_TRUE(sender->Start().ok());
    return sender;
  }

  Stats stats_;
  Stats sender_stats_;
  RecordingManager* manager_ = nullptr;
  std::unique_ptr<ServiceNetwork> network_;
  int port_ = 0;
};

TEST_F(TlsServiceNetworkTest, ClientWithCertificateOfTheClusterCaIsAnswered) {
  Response response;
  grpc::Status status = Call(ClientStub(Tls("client")).get(), ClientRequest("reply"), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), Response::OK);
  EXPECT_EQ(response.data(), "echo");
}

TEST_F(TlsServiceNetworkTest, PlaintextClientGetsNoAnswer) {
  auto stub =
      ResDBService::NewStub(grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
  Response response;
  grpc::Status status = Call(stub.get(), ClientRequest("reply"), &response);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(stats_.CounterValue("network_client_calls"), 0u);
}

TEST_F(TlsServiceNetworkTest, ClientWithCertificateOfAnotherCaGetsNoAnswer) {
  // It trusts the cluster's CA, so only its own certificate can be what is refused.
  Response response;
  grpc::Status status =
      Call(ClientStub(Tls("client", "other")).get(), ClientRequest("reply"), &response);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(stats_.CounterValue("network_client_calls"), 0u);
}

TEST_F(TlsServiceNetworkTest, ClientWithoutCertificateGetsNoAnswer) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(Tls("client").ca_file());
  Response response;
  grpc::Status status =
      Call(Stub(grpc::SslCredentials(options)).get(), ClientRequest("reply"), &response);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(stats_.CounterValue("network_client_calls"), 0u);
}

TEST_F(TlsServiceNetworkTest, MemberStreamIsReadAndSenderMismatchIsDroppedAndCounted) {
  std::unique_ptr<ReplicaCommunicator> a = Sender(kA);
  // A claims to be the outsider, then speaks for itself.
  ASSERT_TRUE(a->SendMessage(ReplicaRequest(kOutsider, 1), kB));
  ASSERT_TRUE(a->SendMessage(ReplicaRequest(kA, 2), kB));
  ASSERT_TRUE(manager_->WaitForCount(1));
  const std::vector<Request> received = manager_->requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].seq(), 2u);
  EXPECT_EQ(stats_.CounterValue("network_sender_mismatch"), 1u);
}

TEST_F(TlsServiceNetworkTest, StreamFromNonMemberIsRefused) {
  std::unique_ptr<ReplicaCommunicator> outsider = Sender(kOutsider);
  ASSERT_TRUE(outsider->SendMessage(ReplicaRequest(kOutsider, 1), kB));
  ASSERT_TRUE(WaitFor([&] { return stats_.CounterValue("network_non_member_streams") > 0; }));
  outsider->Stop();
  EXPECT_TRUE(manager_->requests().empty());
  EXPECT_EQ(stats_.CounterValue("network_replica_messages"), 0u);
}

TEST_F(TlsServiceNetworkTest, AdminRequestFromNonAdminIsPermissionDenied) {
  Response response;
  ASSERT_TRUE(Call(ClientStub(Tls("client")).get(), AdminCall(1000), &response).ok());
  EXPECT_EQ(response.status(), Response::PERMISSION_DENIED);
  EXPECT_NE(response.error().find("client"), std::string::npos) << response.error();
  EXPECT_TRUE(manager_->other_client_calls().empty());
  EXPECT_EQ(stats_.CounterValue("network_permission_denied"), 1u);
}

TEST_F(TlsServiceNetworkTest, AdminRequestFromAdminReachesManagerWithCappedTimeout) {
  Response response;
  ASSERT_TRUE(Call(ClientStub(Tls("admin")).get(), AdminCall(1 << 30), &response).ok());
  EXPECT_EQ(response.status(), Response::OK) << response.error();
  const auto calls = manager_->other_client_calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].second, "admin");
  AdminRequest admin;
  ASSERT_TRUE(admin.ParseFromString(calls[0].first.data()));
  EXPECT_EQ(admin.timeout_ms(), kAdminCapMs);
  EXPECT_EQ(admin.transfer_leader().to(), kA);
}

TEST_F(TlsServiceNetworkTest, AdminOnlyQueriesRefuseOtherClients) {
  Request status;
  status.set_type(Request::TYPE_STATUS);
  Response response;
  ASSERT_TRUE(Call(ClientStub(Tls("client")).get(), status, &response).ok());
  EXPECT_EQ(response.status(), Response::PERMISSION_DENIED);
  ASSERT_TRUE(Call(ClientStub(Tls("admin")).get(), status, &response).ok());
  EXPECT_EQ(response.status(), Response::OK);
}

TEST(TlsCredentialsTest, ReplicaIdentitiesRoundTrip) {
  EXPECT_EQ(ReplicaIdentity(7), "replica-7");
  EXPECT_EQ(ReplicaIdOf("replica-7"), 7);
  for (const char* other :
       {"admin", "replica-", "replica-0", "replica-07", "replica-+7", "replica-7x", "Replica-7"}) {
    EXPECT_EQ(ReplicaIdOf(other), 0) << other;
  }
}

TEST(TlsCredentialsTest, UnreadableFilesFailTheStartNamingTheFile) {
  ResConfigData base;
  *base.mutable_tls() = Tls("replica-{id}");
  base.mutable_tls()->set_key_file("/nonexistent/replica.key");
  const ResDBConfig config = MakeTestConfig(kB, {{kA, kUnusedPort}, {kB, 0}}, base);
  Stats stats;
  ServiceNetwork network(config, std::make_unique<RecordingManager>(config, &stats), &stats);
  absl::Status started = network.Start();
  EXPECT_FALSE(started.ok());
  EXPECT_EQ(started.message(), "tls.key_file: cannot read /nonexistent/replica.key");
}

TEST(TlsCredentialsTest, ConfigWithNeitherTlsNorPlaintextDoesNotServe) {
  ResConfigData data;
  RegionInfo* region = data.add_region();
  ReplicaInfo* self = region->add_replica_info();
  self->set_id(kA);
  self->set_ip("127.0.0.1");
  self->set_port(0);
  const ResDBConfig config(data, kA);
  Stats stats;
  ServiceNetwork network(config, std::make_unique<RecordingManager>(config, &stats), &stats);
  absl::Status started = network.Start();
  EXPECT_FALSE(started.ok());
  EXPECT_EQ(started.message().substr(0, 13), "tls: missing:");
}

}  // namespace
}  // namespace resdb
