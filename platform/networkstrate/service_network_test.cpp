#include "platform/networkstrate/service_network.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/common/crypto/signature.h"
#include "platform/networkstrate/recording_manager.h"
#include "platform/networkstrate/test_config.h"
#include "platform/proto/service.grpc.pb.h"

namespace resdb {
namespace {

using testing_util::MakeTestConfig;
using testing_util::RecordingManager;
using testing_util::TestReplica;

constexpr int64_t kA = 1;
constexpr int64_t kB = 2;
// B never sends to A in these tests, so B's config may name A at a port nobody uses.
constexpr int kUnusedPort = 1;

// One replica: its metrics, its recording manager and its network.
struct Node {
  Stats stats;
  RecordingManager* manager = nullptr;
  std::unique_ptr<ServiceNetwork> network;
};

std::unique_ptr<Node> StartNode(const ResDBConfig& config) {
  auto node = std::make_unique<Node>();
  auto manager = std::make_unique<RecordingManager>(config, &node->stats);
  node->manager = manager.get();
  node->network = std::make_unique<ServiceNetwork>(config, std::move(manager), &node->stats);
  absl::Status status = node->network->Start();
  EXPECT_TRUE(status.ok()) << status;
  if (!status.ok()) return nullptr;
  return node;
}

Request ReplicaRequest(int64_t sender, uint64_t seq, std::string data = "") {
  Request request;
  request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
  request.set_sender_id(sender);
  request.set_seq(seq);
  request.set_data(std::move(data));
  return request;
}

std::vector<uint64_t> Seqs(const std::vector<Request>& requests) {
  std::vector<uint64_t> seqs;
  for (const Request& request : requests) seqs.push_back(request.seq());
  return seqs;
}

bool HasSeq(const std::vector<Request>& requests, uint64_t seq) {
  for (const Request& request : requests) {
    if (request.seq() == seq) return true;
  }
  return false;
}

ResConfigData Limits(int64_t max_message_bytes, int queue_messages) {
  ResConfigData data;
  data.set_max_message_bytes(max_message_bytes);
  data.set_max_peer_queue_messages(queue_messages);
  return data;
}

// B (id 2) on a free port, and A (id 1) that knows B's port.
class TwoReplicasTest : public ::testing::Test {
 protected:
  void StartBoth(const ResConfigData& base) {
    base_ = base;
    b_ = StartNode(MakeTestConfig(kB, {{kA, kUnusedPort}, {kB, 0}}, base));
    ASSERT_NE(b_, nullptr);
    b_port_ = b_->network->port();
    ASSERT_GT(b_port_, 0);
    a_ = StartNode(MakeTestConfig(kA, {{kA, 0}, {kB, b_port_}}, base));
    ASSERT_NE(a_, nullptr);
  }

  ReplicaCommunicator* a_comm() { return a_->manager->GetCommunicator(); }

  // Sends a sentinel from A to B and waits for it. B may process a write before A's Write
  // call has returned and updated A's statistics; the sentinel travels in a later write,
  // which starts only after that, so afterwards A's statistics cover everything sent before.
  void Flush() {
    const uint64_t sentinel = kSentinelBase + sentinels_++;
    ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, sentinel), kB));
    ASSERT_TRUE(b_->manager->WaitUntil([sentinel](const std::vector<Request>& requests, int) {
      return HasSeq(requests, sentinel);
    }));
  }

  // B's requests without the sentinels.
  std::vector<uint64_t> ReceivedByB() {
    std::vector<uint64_t> seqs;
    for (uint64_t seq : Seqs(b_->manager->requests())) {
      if (seq < kSentinelBase) seqs.push_back(seq);
    }
    return seqs;
  }

  static constexpr uint64_t kSentinelBase = uint64_t{1} << 40;
  int sentinels_ = 0;

  ResConfigData base_;
  std::unique_ptr<Node> b_;
  std::unique_ptr<Node> a_;
  int b_port_ = 0;
};

TEST_F(TwoReplicasTest, DeliversInOrderInFewBatches) {
  StartBoth(Limits(16 << 20, 100000));
  // Open the stream first, so that batching is measured on a live connection.
  ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, 0), kB));
  ASSERT_TRUE(b_->manager->WaitForCount(1));

  constexpr int kMessages = 10000;
  for (int i = 1; i <= kMessages; ++i) {
    ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, i, std::string(64, 'x')), kB));
  }
  ASSERT_TRUE(b_->manager->WaitForCount(kMessages + 1));
  Flush();
  const std::vector<uint64_t> seqs = ReceivedByB();
  ASSERT_EQ(seqs.size(), kMessages + 1);
  for (int i = 0; i <= kMessages; ++i) ASSERT_EQ(seqs[i], i);

  const PeerStats stats = a_comm()->GetPeerStats(kB);
  // The sentinel itself may or may not be counted yet.
  EXPECT_GE(stats.sent_messages, kMessages + 1);
  EXPECT_LE(stats.sent_messages, kMessages + 2);
  EXPECT_EQ(stats.dropped, 0);
  EXPECT_EQ(stats.queued_messages, 0);
  EXPECT_TRUE(stats.connected);
  // Without the warm-up write (and perhaps the sentinel's).
  const uint64_t batches = stats.sent_batches - 1;
  EXPECT_LT(batches, kMessages / 2);
  EXPECT_GE(a_->stats.CounterValue("network_sent_messages"), kMessages + 1);
  EXPECT_GE(a_->stats.CounterValue("network_sent_batches"), batches);
  EXPECT_EQ(b_->stats.CounterValue("network_replica_messages"), kMessages + 2);
  std::printf("batching: %d messages in %llu writes (%.1f messages per write)\n", kMessages,
              static_cast<unsigned long long>(batches), static_cast<double>(kMessages) / batches);
}

TEST_F(TwoReplicasTest, LargeMessagesAreSplitIntoBoundedWrites) {
  constexpr int64_t kMaxBytes = 128 * 1024;
  StartBoth(Limits(kMaxBytes, 100000));
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, i, std::string(10 * 1024, 'y')), kB));
  }
  // A single message larger than one write is refused up front.
  EXPECT_FALSE(a_comm()->SendMessage(ReplicaRequest(kA, 999, std::string(kMaxBytes, 'z')), kB));
  ASSERT_TRUE(b_->manager->WaitForCount(kMessages));
  Flush();
  EXPECT_EQ(ReceivedByB().back(), kMessages - 1);
  const PeerStats stats = a_comm()->GetPeerStats(kB);
  EXPECT_GE(stats.sent_messages, kMessages);
  EXPECT_EQ(stats.dropped, 1);
  // ~1 MiB in writes of at most 128 KiB.
  EXPECT_GE(stats.sent_batches, kMessages * 10 * 1024 / kMaxBytes);
}

TEST_F(TwoReplicasTest, SurvivesPeerRestartWithoutBlockingTheSender) {
  constexpr int kQueueBound = 20000;
  StartBoth(Limits(16 << 20, kQueueBound));
  ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, 0), kB));
  ASSERT_TRUE(b_->manager->WaitForCount(1));

  b_->network->Stop();
  b_.reset();

  // B is down: sending must neither block nor grow without bound.
  constexpr int kDowntimeMessages = 100000;
  auto slowest = std::chrono::steady_clock::duration::zero();
  const auto begin = std::chrono::steady_clock::now();
  uint64_t last_accepted = 0;
  for (int i = 1; i <= kDowntimeMessages; ++i) {
    const auto call_start = std::chrono::steady_clock::now();
    if (a_comm()->SendMessage(ReplicaRequest(kA, i), kB)) last_accepted = i;
    slowest = std::max(slowest, std::chrono::steady_clock::now() - call_start);
  }
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_LT(slowest, std::chrono::milliseconds(200));
  const PeerStats down = a_comm()->GetPeerStats(kB);
  EXPECT_GT(down.dropped, 0);
  EXPECT_FALSE(down.connected);
  EXPECT_LE(down.queued_messages, kQueueBound);
  EXPECT_LE(a_->stats.GaugeValue("network_queue_messages"), kQueueBound);
  EXPECT_GT(a_->stats.CounterValue("network_send_dropped"), 0);
  ASSERT_GT(last_accepted, 0);

  // B comes back on the same port. A reconnects and delivers its backlog in order, up to the
  // last message it accepted while B was down.
  b_ = StartNode(MakeTestConfig(kB, {{kA, kUnusedPort}, {kB, b_port_}}, base_));
  ASSERT_NE(b_, nullptr);
  ASSERT_EQ(b_->network->port(), b_port_);
  ASSERT_TRUE(
      b_->manager->WaitUntil([last_accepted](const std::vector<Request>& requests,
                                             int) { return HasSeq(requests, last_accepted); },
                             std::chrono::seconds(20)));

  // What A sends from now on arrives, in order.
  constexpr uint64_t kFirstMarker = 1000000;
  constexpr int kMarkers = 100;
  for (int i = 0; i < kMarkers; ++i) {
    ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, kFirstMarker + i), kB));
  }
  ASSERT_TRUE(b_->manager->WaitUntil([](const std::vector<Request>& requests, int) {
    return HasSeq(requests, kFirstMarker + kMarkers - 1);
  }));
  const std::vector<uint64_t> seqs = Seqs(b_->manager->requests());
  for (size_t i = 1; i < seqs.size(); ++i) ASSERT_LT(seqs[i - 1], seqs[i]);
  EXPECT_EQ(seqs.back(), kFirstMarker + kMarkers - 1);
  EXPECT_EQ(
      std::count_if(seqs.begin(), seqs.end(), [](uint64_t seq) { return seq >= kFirstMarker; }),
      kMarkers);
  Flush();
  EXPECT_TRUE(a_comm()->GetPeerStats(kB).connected);
}

TEST_F(TwoReplicasTest, DefaultHeartBeatReachesPeers) {
  ResConfigData base = Limits(16 << 20, 1000);
  base.set_heartbeat_interval_ms(20);
  StartBoth(base);
  EXPECT_TRUE(b_->manager->WaitUntil(
      [](const std::vector<Request>&, int heartbeats) { return heartbeats >= 3; }));
}

// Stream-level validation, driven by a raw gRPC client.
TEST_F(TwoReplicasTest, StreamDropsInvalidEnvelopes) {
  StartBoth(Limits(16 << 20, 1000));
  auto stub = ResDBService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", b_port_), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  StreamSummary summary;
  auto writer = stub->Stream(&context, &summary);
  ResDBMessageBatch batch;
  batch.add_messages()->set_data("\xff\xff\xff\xff not a request");
  Request unknown = ReplicaRequest(kA, 1);
  unknown.set_type(static_cast<Request::Type>(77));
  unknown.SerializeToString(batch.add_messages()->mutable_data());
  Request none = ReplicaRequest(kA, 2);
  none.set_type(Request::TYPE_NONE);
  none.SerializeToString(batch.add_messages()->mutable_data());
  ReplicaRequest(kA, 3).SerializeToString(batch.add_messages()->mutable_data());
  ASSERT_TRUE(writer->Write(batch));
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(summary.received(), 1);
  EXPECT_EQ(summary.rejected(), 3);
  EXPECT_EQ(Seqs(b_->manager->requests()), std::vector<uint64_t>({3}));
  EXPECT_EQ(b_->stats.CounterValue("network_malformed"), 1);
  EXPECT_EQ(b_->stats.CounterValue("network_unknown_type"), 2);
}

class SignatureTest : public TwoReplicasTest {
 protected:
  static std::unique_ptr<Signer> KeyPair(const std::string& name, std::string* public_key) {
    const std::string dir = ::testing::TempDir();
    const std::string private_key = absl::StrCat(dir, "/", name, ".key.pem");
    *public_key = absl::StrCat(dir, "/", name, ".pub.pem");
    absl::Status generated = GenerateKeyPair(private_key, *public_key);
    EXPECT_TRUE(generated.ok()) << generated;
    auto signer = Signer::LoadFromFile(private_key);
    EXPECT_TRUE(signer.ok()) << signer.status();
    return signer.ok() ? std::move(*signer) : nullptr;
  }
};

TEST_F(SignatureTest, DeliversOnlyCorrectlySignedReplicaMessages) {
  StartBoth(Limits(16 << 20, 1000));
  std::string a_public, other_public;
  ASSERT_NE(KeyPair("replica_a", &a_public), nullptr);
  ASSERT_NE(KeyPair("other", &other_public), nullptr);
  auto verifier = std::make_shared<Verifier>();
  ASSERT_TRUE(verifier->AddPublicKeyFromFile(kA, a_public).ok());
  b_->network->SetVerifier(verifier);
  auto a_signer = [&] {
    auto signer = Signer::LoadFromFile(::testing::TempDir() + "/replica_a.key.pem");
    return std::move(*signer);
  };
  auto other_signer = [&] {
    auto signer = Signer::LoadFromFile(::testing::TempDir() + "/other.key.pem");
    return std::move(*signer);
  };

  a_->manager->SetSigner(a_signer());
  ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, 1), kB));
  ASSERT_TRUE(b_->manager->WaitForCount(1));

  // Signed with a key that is not A's.
  a_->manager->SetSigner(other_signer());
  ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, 2), kB));
  // Correctly signed by A, but claiming to come from replica 3.
  a_->manager->SetSigner(a_signer());
  ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(3, 3), kB));
  // Not signed at all.
  a_->manager->SetSigner(nullptr);
  ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, 4), kB));
  // Delivery is in order on one stream: once this arrives, the others were processed.
  a_->manager->SetSigner(a_signer());
  ASSERT_TRUE(a_comm()->SendMessage(ReplicaRequest(kA, 5), kB));
  ASSERT_TRUE(b_->manager->WaitUntil(
      [](const std::vector<Request>& requests, int) { return HasSeq(requests, 5); }));

  EXPECT_EQ(Seqs(b_->manager->requests()), std::vector<uint64_t>({1, 5}));
  EXPECT_EQ(b_->stats.CounterValue("network_bad_signature"), 3);
}

// Client calls against a single replica.
class ClientCallTest : public ::testing::Test {
 protected:
  static constexpr int64_t kMaxBytes = 1 << 20;
  static constexpr int64_t kMaxRequestBytes = 64 << 10;

  void SetUp() override {
    ResConfigData base;
    base.set_max_message_bytes(kMaxBytes);
    base.set_max_request_bytes(kMaxRequestBytes);
    node_ = StartNode(MakeTestConfig(kA, {{kA, 0}, {kB, kUnusedPort}}, base));
    ASSERT_NE(node_, nullptr);
    stub_ = ResDBService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", node_->network->port()), grpc::InsecureChannelCredentials()));
  }

  grpc::Status CallRaw(const ResDBMessage& envelope, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->Call(&context, envelope, response);
  }

  Response Call(const Request& request) {
    ResDBMessage envelope;
    request.SerializeToString(envelope.mutable_data());
    Response response;
    grpc::Status status = CallRaw(envelope, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    return response;
  }

  static Request ClientRequest(const std::string& data) {
    Request request;
    request.set_type(Request::TYPE_CLIENT_REQUEST);
    request.set_data(data);
    return request;
  }

  std::unique_ptr<Node> node_;
  std::unique_ptr<ResDBService::Stub> stub_;
};

TEST_F(ClientCallTest, ReplyFromAnotherThreadReachesTheClient) {
  const Response response = Call(ClientRequest("reply"));
  EXPECT_EQ(response.status(), Response::OK);
  EXPECT_EQ(response.data(), "echo");
  EXPECT_EQ(node_->stats.CounterValue("network_client_calls"), 1);
}

TEST_F(ClientCallTest, DroppedContextAnswersUnavailable) {
  Response response = Call(ClientRequest("drop"));
  EXPECT_EQ(response.status(), Response::UNAVAILABLE);
  EXPECT_EQ(response.error(), "request dropped by replica");
  response = Call(ClientRequest("reject"));
  EXPECT_EQ(response.status(), Response::UNAVAILABLE);
  EXPECT_EQ(response.error(), "request dropped by replica");
}

TEST_F(ClientCallTest, GarbageEnvelopeIsInvalidAndServerKeepsServing) {
  ResDBMessage envelope;
  envelope.set_data("\xff\xff\xff\xff garbage");
  Response response;
  ASSERT_TRUE(CallRaw(envelope, &response).ok());
  EXPECT_EQ(response.status(), Response::INVALID_REQUEST);
  EXPECT_EQ(response.error(), "malformed request");
  EXPECT_EQ(node_->stats.CounterValue("network_malformed"), 1);
  EXPECT_EQ(Call(ClientRequest("reply")).status(), Response::OK);
}

TEST_F(ClientCallTest, UnknownTypeIsInvalid) {
  Request request = ClientRequest("reply");
  request.set_type(static_cast<Request::Type>(77));
  Response response = Call(request);
  EXPECT_EQ(response.status(), Response::INVALID_REQUEST);
  EXPECT_EQ(response.error(), "unknown request type 77");
  request.set_type(Request::TYPE_NONE);
  response = Call(request);
  EXPECT_EQ(response.status(), Response::INVALID_REQUEST);
  EXPECT_EQ(response.error(), "unknown request type 0");
  EXPECT_EQ(node_->stats.CounterValue("network_unknown_type"), 2);
}

TEST_F(ClientCallTest, OversizedMessageIsRefusedAndServerKeepsServing) {
  ResDBMessage envelope;
  ClientRequest(std::string(kMaxBytes + 1, 'x')).SerializeToString(envelope.mutable_data());
  Response response;
  const grpc::Status status = CallRaw(envelope, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Call(ClientRequest("reply")).status(), Response::OK);
}

// Below the transport's message limit, a request larger than max_request_bytes is answered
// with the limit it broke and never reaches the manager.
TEST_F(ClientCallTest, RequestAboveMaxRequestBytesIsInvalidAndNamesTheLimit) {
  Request request = ClientRequest(std::string(kMaxRequestBytes, 'x'));
  const size_t size = request.ByteSizeLong();
  Response response = Call(request);
  EXPECT_EQ(response.status(), Response::INVALID_REQUEST);
  EXPECT_EQ(response.error(),
            absl::StrCat("request of ", size, " bytes is larger than max_request_bytes (65536)"));
  EXPECT_EQ(node_->stats.CounterValue("network_oversized_requests"), 1);
  EXPECT_EQ(node_->stats.CounterValue("network_consensus_rejected"), 0);
  EXPECT_EQ(Call(ClientRequest(std::string(kMaxRequestBytes - 100, 'x'))).status(),
            Response::UNAVAILABLE);  // reached the manager, which drops what it does not know
  EXPECT_EQ(Call(ClientRequest("reply")).status(), Response::OK);
}

TEST_F(ClientCallTest, PortInUseFailsStartAndLeavesNothingRunning) {
  const int port = node_->network->port();
  Stats stats;
  const ResDBConfig config = MakeTestConfig(kB, {{kA, port}, {kB, port}});
  auto manager = std::make_unique<RecordingManager>(config, &stats);
  RecordingManager* manager_ptr = manager.get();
  ServiceNetwork second(config, std::move(manager), &stats);
  const absl::Status status = second.Start();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(absl::StrCat("127.0.0.1:", port)), std::string::npos) << status;
  EXPECT_EQ(manager_ptr->start_calls(), 0);
  EXPECT_EQ(second.port(), 0);
  // The first replica is unaffected.
  EXPECT_EQ(Call(ClientRequest("reply")).status(), Response::OK);
}

TEST_F(ClientCallTest, StopCancelsPendingCallsAndLateRepliesAreHarmless) {
  grpc::Status status;
  Response response;
  std::thread client([&] {
    ResDBMessage envelope;
    ClientRequest("hold").SerializeToString(envelope.mutable_data());
    status = CallRaw(envelope, &response);
  });
  ASSERT_TRUE(node_->manager->WaitForHeld(1));
  std::thread waiter([&] { node_->network->Wait(); });

  node_->network->Stop();
  client.join();
  waiter.join();
  // The server cancels calls still open after its grace period; the client sees that as
  // UNAVAILABLE ("Cancelling all calls") or CANCELLED.
  EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::CANCELLED)
      << status.error_code() << ": " << status.error_message();
  // The call is over; answering it now must change nothing and touch nothing freed.
  node_->manager->ReplyToHeld();
  node_->network->Stop();
  node_.reset();
}

// Without TLS there is no identity to check: admin requests need the explicit
// allow_plaintext_admin.
TEST_F(ClientCallTest, PlaintextAdminRequestIsPermissionDenied) {
  Request admin;
  admin.set_type(Request::TYPE_ADMIN);
  AdminRequest().SerializeToString(admin.mutable_data());
  Response response = Call(admin);
  EXPECT_EQ(response.status(), Response::PERMISSION_DENIED);
  EXPECT_TRUE(node_->manager->other_client_calls().empty());
}

TEST(PlaintextAdminTest, AllowPlaintextAdminLetsAnyCallerAdminister) {
  ResConfigData base;
  base.set_allow_plaintext_admin(true);
  std::unique_ptr<Node> node = StartNode(MakeTestConfig(kA, {{kA, 0}, {kB, kUnusedPort}}, base));
  ASSERT_NE(node, nullptr);
  auto stub = ResDBService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", node->network->port()), grpc::InsecureChannelCredentials()));
  Request admin;
  admin.set_type(Request::TYPE_ADMIN);
  ResDBMessage envelope;
  admin.SerializeToString(envelope.mutable_data());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  Response response;
  ASSERT_TRUE(stub->Call(&context, envelope, &response).ok());
  EXPECT_EQ(response.status(), Response::OK);
  ASSERT_EQ(node->manager->other_client_calls().size(), 1u);
  EXPECT_EQ(node->manager->other_client_calls()[0].second, "");
}

}  // namespace
}  // namespace resdb
