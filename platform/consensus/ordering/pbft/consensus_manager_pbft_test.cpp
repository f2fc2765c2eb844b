#include "platform/consensus/ordering/pbft/consensus_manager_pbft.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "platform/networkstrate/service_network.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"
#include "service/kv/kv_executor.h"
#include "service/tools/admin/admin_client.h"
#include "service/tools/kv/kv_client.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class PbftClusterTest : public ::testing::Test {
 protected:
  struct Replica {
    std::unique_ptr<Storage> storage = NewMemoryStorage();
    std::unique_ptr<PrefixAllocator> prefixes;
    std::unique_ptr<Storage> user_data;
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
    // A port picked by FreePort may be taken by another process before it is bound: try
    // again on fresh ports.
    bool started = false;
    for (int attempt = 0; attempt < 5 && !started; ++attempt) started = StartAll();
    ASSERT_TRUE(started) << "could not start the replicas";
  }

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
      replica.stats = std::make_unique<Stats>();
      ResDBConfig config(data_, id);
      replica.prefixes = std::make_unique<PrefixAllocator>();
      auto user_data =
          replica.prefixes->Allocate(replica.storage.get(), kUserDataPrefix, "kv user data");
      if (!user_data.ok()) return false;
      replica.user_data = std::move(*user_data);
      auto manager = ConsensusManagerPBFT::Create(
          config, std::make_unique<KVExecutor>(replica.user_data.get(), false),
          replica.storage.get(), replica.prefixes.get(), replica.stats.get());
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
