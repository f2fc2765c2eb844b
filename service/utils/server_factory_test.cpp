#include "service/utils/server_factory.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"
#include "service/kv/kv_executor.h"

namespace resdb {
namespace {

ResDBConfig FourReplicas(int64_t self_id) {
  ResConfigData data;
  data.set_allow_plaintext(true);
  RegionInfo* region = data.add_region();
  for (int id = 1; id <= 4; ++id) {
    ReplicaInfo* replica = region->add_replica_info();
    replica->set_id(id);
    replica->set_ip("127.0.0.1");
    replica->set_port(30000 + id);
  }
  return ResDBConfig(data, self_id);
}

TEST(ServerFactoryTest, UnknownProtocolIsAnErrorNotPbft) {
  ResDBConfig config = FourReplicas(1);
  config.SetConsensusProtocol("paxos");
  absl::Status status = CheckServerConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(status.message()).find("consensus_protocol"), std::string::npos);
}

TEST(ServerFactoryTest, ServerNeedsAReplicaId) {
  absl::Status status = CheckServerConfig(FourReplicas(0));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(status.message()).find("id"), std::string::npos);
}

TEST(ServerFactoryTest, PbftIsBuilt) {
  ResDBConfig config = FourReplicas(2);
  config.SetConsensusProtocol("pbft");
  EXPECT_TRUE(CheckServerConfig(config).ok());
  auto storage = NewMemoryStorage();
  PrefixAllocator prefixes;
  auto user_data = prefixes.Allocate(storage.get(), kUserDataPrefix, "kv user data");
  ASSERT_TRUE(user_data.ok());
  ServerParts parts;
  parts.config = &config;
  parts.transaction_manager = std::make_unique<KVExecutor>(user_data->get());
  parts.storage = storage.get();
  parts.prefixes = &prefixes;
  auto manager = CreateConsensusManager(std::move(parts));
  ASSERT_TRUE(manager.ok()) << manager.status();
  // The pbft prefix is registered next to the service's.
  EXPECT_EQ(prefixes.Registered().size(), 2u);
  // View 0, primary 1.
  EXPECT_EQ((*manager)->GetPrimary(), 1);
  EXPECT_EQ((*manager)->GetVersion(), 0u);
  ReplicaStatus status = (*manager)->GetStatus();
  EXPECT_EQ(status.protocol(), "pbft");
  EXPECT_EQ(status.role(), "backup");
  EXPECT_EQ(status.primary_id(), 1);
}

TEST(ServerFactoryTest, RaftIsBuilt) {
  ResDBConfig config = FourReplicas(1);
  config.SetConsensusProtocol("raft");
  EXPECT_TRUE(CheckServerConfig(config).ok());
  auto storage = NewMemoryStorage();
  PrefixAllocator prefixes;
  auto user_data = prefixes.Allocate(storage.get(), kUserDataPrefix, "kv user data");
  ASSERT_TRUE(user_data.ok());
  ServerParts parts;
  parts.config = &config;
  parts.transaction_manager = std::make_unique<KVExecutor>(user_data->get());
  parts.storage = storage.get();
  parts.prefixes = &prefixes;
  auto manager = CreateConsensusManager(std::move(parts));
  ASSERT_TRUE(manager.ok()) << manager.status();
  EXPECT_EQ((*manager)->GetPrimary(), 0);
  // The raft prefixes are registered next to the service's.
  EXPECT_EQ(prefixes.Registered().size(), 4u);
}

TEST(ServerFactoryTest, ProtocolsNeedThePrefixAllocator) {
  ResDBConfig config = FourReplicas(1);
  config.SetConsensusProtocol("raft");
  auto storage = NewMemoryStorage();
  ServerParts parts;
  parts.config = &config;
  parts.transaction_manager = std::make_unique<KVExecutor>(storage.get());
  parts.storage = storage.get();
  auto manager = CreateConsensusManager(std::move(parts));
  EXPECT_EQ(manager.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerFactoryTest, MissingPartsAreRejected) {
  ResDBConfig config = FourReplicas(1);
  ServerParts parts;
  parts.config = &config;
  auto manager = CreateConsensusManager(std::move(parts));
  EXPECT_EQ(manager.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace resdb
