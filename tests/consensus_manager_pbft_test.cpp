#include "platform/consensus/ordering/pbft/consensus_manager_pbft.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "interface/kv/kv_client.h"
#include "platform/common/crypto/client_identity.h"
#include "platform/networkstrate/manager_call.h"
#include "platform/networkstrate/service_network.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"
#include "service/kv/kv_executor.h"
#include "service/tools/admin/admin_client.h"
#include "tests/free_port.h"
#include "tests/recording_storage.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;

using testing_util::FreePort;

// A window whose view change would not fit in one message is refused at start, naming both
// settings, instead of a cluster that could never replace its primary.
TEST(PbftCreateTest, WindowWhoseNewViewExceedsTheMessageLimitIsRefused) {
  ResConfigData data;
  data.set_consensus_protocol("pbft");
  data.set_allow_plaintext(true);
  data.set_max_message_bytes(1 << 20);
  data.mutable_pbft_config()->set_checkpoint_interval(100);
  RegionInfo* region = data.add_region();
  for (int id = 1; id <= 4; ++id) {
    ReplicaInfo* info = region->add_replica_info();
    info->set_id(id);
    info->set_ip("127.0.0.1");
    info->set_port(10000 + id);
  }
  auto create = [&](int window) {
    data.mutable_pbft_config()->set_watermark_window(window);
    std::unique_ptr<Storage> storage = NewMemoryStorage();
    PrefixAllocator prefixes;
    Stats stats;
    auto user_data = prefixes.Allocate(storage.get(), kUserDataPrefix, "kv user data");
    EXPECT_TRUE(user_data.ok());
    return ConsensusManagerPBFT::Create(ResDBConfig(data, 1),
                                        std::make_unique<KVExecutor>(user_data->get(), false),
                                        storage.get(), &prefixes, &stats)
        .status();
  };
  EXPECT_TRUE(create(400).ok());
  const absl::Status refused = create(100000);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("watermark_window 100000"));
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("max_message_bytes"));
}

class PbftClusterTest : public ::testing::Test {
 protected:
  struct Replica {
    std::unique_ptr<Storage> storage;
    std::unique_ptr<PrefixAllocator> prefixes;
    std::unique_ptr<Storage> user_data;
    // As kv_service runs it: the service writes through a StagedStorage.
    std::unique_ptr<StagedStorage> staged;
    std::unique_ptr<Stats> stats;
    std::unique_ptr<ServiceNetwork> server;
  };

  void SetUp() override {
    data_.set_consensus_protocol("pbft");
    data_.set_allow_plaintext(true);
    data_.set_require_signatures(false);
    data_.set_sync_writes(false);
    data_.set_client_timeout_ms(5000);
    data_.set_heartbeat_interval_ms(20);
    data_.mutable_pbft_config()->set_checkpoint_interval(2);
    data_.mutable_pbft_config()->set_watermark_window(8);
    Configure(&data_);
    // A port picked by FreePort may be taken by another process before it is bound: try
    // again on fresh ports.
    bool started = false;
    for (int attempt = 0; attempt < 5 && !started; ++attempt) started = StartAll();
    ASSERT_TRUE(started) << "could not start the replicas";
  }

  // Changes the settings before the replicas start.
  virtual void Configure(ResConfigData* data) {}
  // The database of replica `id`.
  virtual std::unique_ptr<Storage> NewStorage(int id) { return NewMemoryStorage(); }

  bool StartAll() {
    TearDown();
    replicas_.clear();
    replicas_.resize(5);
    data_.clear_region();
    RegionInfo* region = data_.add_region();
    for (int id = 1; id <= 4; ++id) {
      ReplicaInfo* info = region->add_replica_info();
      info->set_id(id);
      info->set_ip("127.0.0.1");
      info->set_port(FreePort());
    }
    for (int id = 1; id <= 4; ++id) {
      Replica& replica = replicas_[id];
      replica.storage = NewStorage(id);
      replica.stats = std::make_unique<Stats>();
      ResDBConfig config(data_, id);
      replica.prefixes = std::make_unique<PrefixAllocator>();
      auto user_data =
          replica.prefixes->Allocate(replica.storage.get(), kUserDataPrefix, "kv user data");
      if (!user_data.ok()) return false;
      replica.user_data = std::move(*user_data);
      replica.staged = std::make_unique<StagedStorage>(replica.user_data.get());
      auto manager = ConsensusManagerPBFT::Create(
          config, std::make_unique<KVExecutor>(replica.staged.get(), false), replica.storage.get(),
          replica.prefixes.get(), replica.stats.get(), replica.staged.get());
      if (!manager.ok()) return false;
      replica.server =
          std::make_unique<ServiceNetwork>(config, std::move(*manager), replica.stats.get());
      if (!replica.server->Start().ok()) return false;
    }
    return true;
  }

  void TearDown() override {
    for (Replica& replica : replicas_) {
      if (replica.server != nullptr) replica.server->Stop();
    }
  }

  ReplicaStatus Status(int id) { return replicas_[id].server->manager()->GetStatus(); }

  bool WaitForExecuted(uint64_t seq, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      bool all = true;
      for (int id = 1; id <= 4; ++id) {
        if (Status(id).executed_seq() < seq) all = false;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  ResDBConfig ClientConfig(int id) {
    ResConfigData data = data_;
    RegionInfo* region = data.mutable_region(0);
    ReplicaInfo only = region->replica_info(id - 1);
    region->clear_replica_info();
    *region->add_replica_info() = only;
    return ResDBConfig(data, 0);
  }

  ResConfigData data_;
  std::vector<Replica> replicas_;
};

TEST_F(PbftClusterTest, StatusNamesThePrimary) {
  for (int id = 1; id <= 4; ++id) {
    ReplicaStatus status = Status(id);
    EXPECT_EQ(status.protocol(), "pbft");
    EXPECT_EQ(status.role(), id == 1 ? "primary" : "backup");
    EXPECT_EQ(status.primary_id(), 1);
    EXPECT_EQ(status.view(), 0u);
    EXPECT_EQ(replicas_[id].server->manager()->GetPrimary(), 1);
  }
}

TEST_F(PbftClusterTest, WritesAndReadsThroughEveryReplica) {
  for (int id = 1; id <= 4; ++id) {
    KVClient client(ClientConfig(id));
    const std::string key = "key" + std::to_string(id);
    ASSERT_TRUE(client.Set(key, "value" + std::to_string(id)).ok()) << "via replica " << id;
    auto value = client.Get(key);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(*value, "value" + std::to_string(id));
  }
  // The replica that answered a client may be ahead of the others.
  uint64_t executed = 0;
  for (int id = 1; id <= 4; ++id) executed = std::max(executed, Status(id).executed_seq());
  EXPECT_GE(executed, 8u);
  ASSERT_TRUE(WaitForExecuted(executed));
  // Every replica reads the same values through ordering.
  for (int id = 1; id <= 4; ++id) {
    KVClient client(ClientConfig(id));
    for (int k = 1; k <= 4; ++k) {
      auto value = client.Get("key" + std::to_string(k));
      ASSERT_TRUE(value.ok()) << value.status();
      EXPECT_EQ(*value, "value" + std::to_string(k));
    }
  }
  // With a checkpoint interval of 2 and a window of 8, more than 8 seqs ran only because
  // checkpoints became stable.
  uint64_t most = 0;
  for (int id = 1; id <= 4; ++id) most = std::max(most, Status(id).executed_seq());
  EXPECT_GT(most, 8u);
  ASSERT_TRUE(WaitForExecuted(most));
  bool stable = false;
  for (const auto deadline = Clock::now() + std::chrono::seconds(20);
       !stable && Clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
    stable = true;
    for (int id = 1; id <= 4; ++id) stable = stable && Status(id).stable_checkpoint() > 0;
  }
  EXPECT_TRUE(stable) << "no stable checkpoint on every replica";
}

TEST_F(PbftClusterTest, LogQueryDescribesTheLedger) {
  KVClient client(ClientConfig(1));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Set("k" + std::to_string(i), "v").ok());
  const uint64_t executed = Status(1).executed_seq();
  ASSERT_TRUE(WaitForExecuted(executed));

  LogQuery query;
  query.set_first(2);
  query.set_max_records(2);
  Request request;
  request.set_type(Request::TYPE_CUSTOM_QUERY);
  query.SerializeToString(request.mutable_data());
  absl::StatusOr<Response> answer =
      CallReplica(data_.region(0).replica_info(2), request, "log query", ClientConfig(3),
                  std::chrono::seconds(5));
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->status(), Response::OK) << answer->error();
  LogQueryResult result;
  ASSERT_TRUE(result.ParseFromString(answer->data()));
  EXPECT_EQ(result.first_index(), 1u);
  EXPECT_GE(result.last_index(), executed);
  ASSERT_EQ(result.records_size(), 2);
  EXPECT_EQ(result.records(0).index(), 2u);
  EXPECT_EQ(result.records(1).index(), 3u);
  for (const LogRecord& record : result.records()) {
    EXPECT_GT(record.bytes(), 0u);
    EXPECT_EQ(record.requests() > 0, record.kind() == "normal");
  }

  request.set_data("\xff\xff not a query");
  absl::StatusOr<Response> bad = CallReplica(data_.region(0).replica_info(2), request, "log query",
                                             ClientConfig(3), std::chrono::seconds(5));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status(), Response::INVALID_REQUEST);
}

}  // namespace
}  // namespace resdb

namespace resdb {
namespace {

// Clients sign their requests; the replicas check it (require_signatures).
class PbftSignedClientTest : public PbftClusterTest {
 protected:
  void Configure(ResConfigData* data) override { data->set_require_signatures(true); }

  // A KV write of `key` = `value` as client `signer` would send it, claiming `client_id`.
  static Request Write(const ClientIdentity& signer, uint64_t client_id, uint64_t request_id,
                       const std::string& key, const std::string& value) {
    KVRequest kv;
    kv.set_cmd(KVRequest::SET);
    kv.set_key(key);
    kv.set_value(value);
    Request request;
    request.set_type(Request::TYPE_CLIENT_REQUEST);
    request.set_client_id(client_id);
    request.set_request_id(request_id);
    kv.SerializeToString(request.mutable_data());
    request.set_client_public_key(signer.public_key());
    request.set_client_signature(signer.Sign(request_id, request.data()));
    return request;
  }

  int64_t Primary() { return Status(1).primary_id(); }
  // Hands `message` to replica `id` as if it came over a replica stream; what the manager
  // returned (negative: refused).
  int FromReplica(int64_t id, const Request& message) {
    return Manager(id)->OnReplicaMessage(std::make_unique<Request>(message), ResDBMessage());
  }
  ConsensusManager* Manager(int64_t id) { return replicas_[id].server->manager(); }
  int64_t Unsigned(int64_t id) {
    return static_cast<int64_t>(replicas_[id].stats->CounterValue("pbft_unsigned_client_requests"));
  }
};

TEST_F(PbftSignedClientTest, ClientsSignAndReplicasOrderOnlySignedRequests) {
  KVClient client(ResDBConfig(data_, 0));
  ASSERT_TRUE(client.Set("a", "1").ok());
  EXPECT_EQ(*client.Get("a"), "1");

  auto victim = ClientIdentity::Generate();
  auto forger = ClientIdentity::Generate();
  ASSERT_TRUE(victim.ok() && forger.ok());
  // Unsigned, or signed by a key that is not the client's: refused with the reason.
  Request unsigned_write = Write(**victim, (*victim)->client_id(), 1, "b", "unsigned");
  unsigned_write.clear_client_signature();
  Response refused = ManagerCall(Manager(1), unsigned_write).Wait();
  EXPECT_EQ(refused.status(), Response::INVALID_REQUEST);
  EXPECT_NE(refused.error().find("does not carry that client's signature"), std::string::npos)
      << refused.error();
  refused =
      ManagerCall(Manager(2), Write(**forger, (*victim)->client_id(), 1, "b", "forged")).Wait();
  EXPECT_EQ(refused.status(), Response::INVALID_REQUEST);
  EXPECT_EQ(Unsigned(1) + Unsigned(2), 2);
}

// A faulty replica forwards to the primary a write in another client's name, with that
// client's next request id: the primary refuses it, and the client's own write still applies.
TEST_F(PbftSignedClientTest, ForwardedForgeryIsRefusedAndTheClientsWriteApplies) {
  const int64_t primary = Primary();
  ASSERT_NE(primary, 0);
  const int64_t faulty = primary == 4 ? 1 : primary + 1;
  auto victim = ClientIdentity::Generate();
  auto forger = ClientIdentity::Generate();
  ASSERT_TRUE(victim.ok() && forger.ok());
  Request forged = Write(**forger, (*victim)->client_id(), 1, "v", "forged");
  forged.set_sender_id(faulty);
  forged.set_proxy_id(faulty);
  EXPECT_LT(FromReplica(primary, forged), 0);
  // Naming another replica as the proxy is refused as well, signed or not.
  Request misnamed = Write(**victim, (*victim)->client_id(), 2, "v", "misnamed");
  misnamed.set_sender_id(faulty);
  misnamed.set_proxy_id(primary == 4 ? 2 : 4);
  EXPECT_LT(FromReplica(primary, misnamed), 0);
  EXPECT_EQ(Unsigned(primary), 1);

  // The victim's real request 1 is ordered and applied, not answered from a forgery.
  Response written =
      ManagerCall(Manager(primary), Write(**victim, (*victim)->client_id(), 1, "v", "real")).Wait();
  ASSERT_EQ(written.status(), Response::OK) << written.error();
  KVClient reader(ResDBConfig(data_, 0));
  EXPECT_EQ(*reader.Get("v"), "real");
}

// A faulty primary's PRE_PREPARE holding a request its client did not sign is refused by the
// backups. (A NEWVIEW names its batches by digest only: the data of a re-proposed batch comes
// from a PRE_PREPARE checked here or from replicas that checked it.)
TEST_F(PbftSignedClientTest, BackupsRefuseABatchWithAForgedRequest) {
  const int64_t primary = Primary();
  ASSERT_NE(primary, 0);
  const int64_t backup = primary == 4 ? 1 : primary + 1;
  auto victim = ClientIdentity::Generate();
  auto forger = ClientIdentity::Generate();
  ASSERT_TRUE(victim.ok() && forger.ok());
  BatchUserRequest batch;
  Request forged = Write(**forger, (*victim)->client_id(), 1, "v", "forged");
  UserRequest* request = batch.add_requests();
  request->set_client_id(forged.client_id());
  request->set_request_id(forged.request_id());
  request->set_data(forged.data());
  request->set_client_public_key(forged.client_public_key());
  request->set_client_signature(forged.client_signature());
  Request pre_prepare;
  pre_prepare.set_type(Request::TYPE_PRE_PREPARE);
  pre_prepare.set_sender_id(primary);
  pre_prepare.set_seq(1);
  batch.SerializeToString(pre_prepare.mutable_data());
  EXPECT_LT(FromReplica(backup, pre_prepare), 0);
  EXPECT_EQ(Unsigned(backup), 1);
  // Signed by the victim itself, the same batch is accepted for the protocol to judge.
  request->set_client_public_key((*victim)->public_key());
  request->set_client_signature((*victim)->Sign(1, forged.data()));
  batch.SerializeToString(pre_prepare.mutable_data());
  EXPECT_EQ(FromReplica(backup, pre_prepare), 0);
  EXPECT_EQ(Unsigned(backup), 1);
}

class PbftAtomicApplyTest : public PbftClusterTest {
 protected:
  std::unique_ptr<Storage> NewStorage(int id) override {
    auto recording = std::make_unique<testing_util::RecordingStorage>(
        NewMemoryStorage(), absl::StrCat(kPbftPrefix, "applied/applied_index"));
    recording_[id] = recording.get();
    return recording;
  }

  testing_util::RecordingStorage* recording_[5] = {};
};

// A crash can never leave a batch's state written without its executed seq (which would
// execute it again at replay, and a versioned write would then fail where it succeeded):
// every write of user data carries the applied index with it.
TEST_F(PbftAtomicApplyTest, StateAndAppliedIndexAreOneWrite) {
  KVClient client(ClientConfig(1));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client.Set(absl::StrCat("k", i), absl::StrCat("v", i)).ok());
  }
  ASSERT_TRUE(WaitForExecuted(Status(1).executed_seq()));
  for (int id = 1; id <= 4; ++id) {
    int user_writes = 0;
    for (const auto& shape : recording_[id]->writes()) {
      if (!shape.user_data) continue;
      ++user_writes;
      EXPECT_TRUE(shape.applied_index) << "replica " << id << " wrote user data alone";
    }
    EXPECT_GE(user_writes, 1) << "replica " << id;
  }
}

}  // namespace
}  // namespace resdb
