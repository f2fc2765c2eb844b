#include "platform/consensus/ordering/raft/consensus_manager_raft.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "interface/kv/kv_client.h"
#include "platform/networkstrate/manager_call.h"
#include "platform/networkstrate/service_network.h"
#include "platform/storage/forwarding_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"
#include "service/kv/kv_executor.h"
#include "tests/free_port.h"
#include "tests/recording_storage.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;

using testing_util::FreePort;

class RaftClusterTest : public ::testing::Test {
 protected:
  struct Replica {
    std::unique_ptr<Storage> storage = NewMemoryStorage();
    std::unique_ptr<PrefixAllocator> prefixes;
    std::unique_ptr<Storage> user_data;
    std::unique_ptr<StagedStorage> staged;
    std::unique_ptr<Stats> stats;
    std::unique_ptr<ServiceNetwork> server;
  };

  void SetUp() override {
    RegionInfo* region = data_.add_region();
    for (int id = 1; id <= 3; ++id) {
      ReplicaInfo* info = region->add_replica_info();
      info->set_id(id);
      info->set_ip("127.0.0.1");
      info->set_port(FreePort());
    }
    data_.set_consensus_protocol("raft");
    data_.set_allow_plaintext(true);
    data_.set_require_signatures(false);
    data_.set_sync_writes(false);
    data_.set_client_timeout_ms(5000);
    data_.mutable_raft_config()->set_heartbeat_interval_ms(20);
    data_.mutable_raft_config()->set_election_timeout_min_ms(150);
    data_.mutable_raft_config()->set_election_timeout_max_ms(300);
    Configure(&data_);
    replicas_.resize(4);
    for (int id = 1; id <= 3; ++id) StartReplica(id);
  }

  // Changes the settings before the replicas start.
  virtual void Configure(ResConfigData* data) {}

  void TearDown() override {
    for (Replica& replica : replicas_) {
      if (replica.server != nullptr) replica.server->Stop();
    }
  }

  void StartReplica(int id) {
    Replica& replica = replicas_[id];
    replica.server.reset();
    replica.staged.reset();
    replica.user_data.reset();
    replica.prefixes = std::make_unique<PrefixAllocator>();
    replica.stats = std::make_unique<Stats>();
    auto user = replica.prefixes->Allocate(replica.storage.get(), kUserDataPrefix, "kv");
    ASSERT_TRUE(user.ok());
    replica.user_data = std::move(*user);
    ResDBConfig config(data_, id);
    // As kv_service runs it: the service writes through a StagedStorage.
    replica.staged = std::make_unique<StagedStorage>(replica.user_data.get());
    auto manager = ConsensusManagerRaft::Create(
        config, std::make_unique<KVExecutor>(replica.staged.get(), false), replica.storage.get(),
        replica.prefixes.get(), replica.stats.get(), replica.staged.get());
    ASSERT_TRUE(manager.ok()) << manager.status();
    replica.server =
        std::make_unique<ServiceNetwork>(config, std::move(*manager), replica.stats.get());
    ASSERT_TRUE(replica.server->Start().ok());
  }

  void StopReplica(int id) {
    replicas_[id].server->Stop();
    replicas_[id].server.reset();
  }

  ReplicaStatus Status(int id) { return replicas_[id].server->manager()->GetStatus(); }

  // The id of the replica all running replicas agree leads, 0 if none within the deadline.
  int64_t WaitForLeader(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int64_t leader = 0;
      bool agreed = true;
      for (int id = 1; id <= 3; ++id) {
        if (replicas_[id].server == nullptr) continue;
        ReplicaStatus status = Status(id);
        if (status.role() == "leader") leader = id;
        if (leader != 0 && status.leader_id() != leader) agreed = false;
      }
      if (leader != 0 && agreed) {
        for (int id = 1; id <= 3; ++id) {
          if (replicas_[id].server != nullptr && Status(id).leader_id() != leader) agreed = false;
        }
        if (agreed) return leader;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  bool WaitForApplied(uint64_t index, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      bool all = true;
      for (int id = 1; id <= 3; ++id) {
        if (replicas_[id].server != nullptr && Status(id).applied_index() < index) all = false;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // A client config naming only replica `id` (0: all replicas).
  ResDBConfig ClientConfig(int id = 0) {
    ResConfigData data = data_;
    if (id != 0) {
      RegionInfo* region = data.mutable_region(0);
      ReplicaInfo only = region->replica_info(id - 1);
      region->clear_replica_info();
      *region->add_replica_info() = only;
    }
    return ResDBConfig(data, 0);
  }

  ResConfigData data_;
  std::vector<Replica> replicas_;
};

TEST_F(RaftClusterTest, WritesReplicateThroughEveryReplica) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  for (int id = 1; id <= 3; ++id) {
    KVClient client(ClientConfig(id));
    const std::string key = "key" + std::to_string(id);
    ASSERT_TRUE(client.Set(key, "value" + std::to_string(id)).ok()) << "via replica " << id;
    auto value = client.Get(key);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(*value, "value" + std::to_string(id));
  }
  const uint64_t applied = Status(leader).applied_index();
  ASSERT_TRUE(WaitForApplied(applied));
  for (int id = 1; id <= 3; ++id) {
    KVClient client(ClientConfig(id));
    client.SetConsistency("stale");
    for (int k = 1; k <= 3; ++k) {
      auto value = client.Get("key" + std::to_string(k));
      ASSERT_TRUE(value.ok()) << value.status();
      EXPECT_EQ(*value, "value" + std::to_string(k));
    }
  }
  ReplicaStatus status = Status(leader);
  EXPECT_EQ(status.protocol(), "raft");
  // The test runs with sync_writes off: nothing is synced, so nothing is counted.
  EXPECT_EQ(status.metrics().at("raft_log_fsyncs"), 0);
  EXPECT_GE(status.commit_index(), 4u);
}

TEST_F(RaftClusterTest, VersionedWriteGetsVersionOne) {
  ASSERT_NE(WaitForLeader(), 0);
  KVClient client(ClientConfig());
  auto version = client.SetWithVersion("once", "v", 0);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1u);
  auto current = client.GetWithVersion("once");
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->version, 1u);
}

TEST_F(RaftClusterTest, NewLeaderAfterLeaderStopsAndOldLeaderCatchesUp) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  KVClient client(ClientConfig());
  ASSERT_TRUE(client.Set("before", "1").ok());
  StopReplica(static_cast<int>(leader));
  const int64_t next = WaitForLeader();
  ASSERT_NE(next, 0);
  EXPECT_NE(next, leader);
  ASSERT_TRUE(client.Set("after", "2").ok());
  auto before = client.Get("before");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, "1");

  // The old leader restarts from its durable state and catches up.
  StartReplica(static_cast<int>(leader));
  const uint64_t applied = Status(static_cast<int>(next)).applied_index();
  ASSERT_TRUE(WaitForApplied(applied));
  KVClient old_leader(ClientConfig(static_cast<int>(leader)));
  old_leader.SetConsistency("stale");
  auto after = old_leader.Get("after");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, "2");
}

TEST_F(RaftClusterTest, NoLeaderWithoutAMajority) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  const int survivor = leader == 1 ? 2 : 1;
  for (int id = 1; id <= 3; ++id) {
    if (id != survivor) StopReplica(id);
  }
  KVClient client(ClientConfig(survivor));
  client.SetTimeoutMs(3000);
  absl::Status status = client.Set("k", "v");
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(std::string(status.message()).find("no leader") != std::string::npos ||
              absl::IsUnavailable(status))
      << status;
  auto read = client.Get("k");
  EXPECT_FALSE(read.ok());
}

// Sends `request` to replica `id`'s manager as a client call and waits for the answer.
// A call that fails the test if no answer comes.
class Call : public ManagerCall {
 public:
  using ManagerCall::ManagerCall;
  Response Wait() {
    Response response = ManagerCall::Wait();
    EXPECT_TRUE(done());
    return response;
  }
};

Request KVCall(KVRequest::CMD cmd, const std::string& key, uint64_t request_id,
               const std::string& consistency = "") {
  KVRequest kv;
  kv.set_cmd(cmd);
  kv.set_key(key);
  kv.set_value("v");
  Request request;
  request.set_type(Request::TYPE_CLIENT_REQUEST);
  request.set_client_id(77);
  request.set_request_id(request_id);
  request.set_consistency(consistency);
  kv.SerializeToString(request.mutable_data());
  return request;
}

// A replica forwards to the leader only the writes whose calls it holds, so it must name itself
// as the proxy: a forward naming another replica is refused and never applied.
TEST_F(RaftClusterTest, ForwardNamingAnotherProxyIsRefused) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  const int forwarder = leader == 1 ? 2 : 1;
  const int other = 6 - static_cast<int>(leader) - forwarder;
  Request forward = KVCall(KVRequest::SET, "misnamed", 7);
  forward.set_sender_id(forwarder);
  forward.set_proxy_id(other);
  ConsensusManager* leading = replicas_[leader].server->manager();
  EXPECT_LT(leading->OnReplicaMessage(std::make_unique<Request>(forward), ResDBMessage()), 0);
  EXPECT_EQ(Status(static_cast<int>(leader)).metrics().at("raft_malformed_messages"), 1);
  // Named correctly, the same forward is taken.
  forward.set_proxy_id(forwarder);
  EXPECT_EQ(leading->OnReplicaMessage(std::make_unique<Request>(forward), ResDBMessage()), 0);
}

TEST_F(RaftClusterTest, SameRequestIdAppliesOnceOnEveryPath) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  const int follower = leader == 1 ? 2 : 1;
  ConsensusManager* on_leader = replicas_[leader].server->manager();
  ConsensusManager* on_follower = replicas_[follower].server->manager();
  const Request write = KVCall(KVRequest::SET_WITH_VERSION, "k", 5);
  // Sent twice at once through different replicas, then again after it applied.
  Call first(on_follower, write);
  Call second(on_leader, write);
  Response a = first.Wait();
  Response b = second.Wait();
  ASSERT_EQ(a.status(), Response::OK) << a.error();
  ASSERT_EQ(b.status(), Response::OK) << b.error();
  Response c = Call(on_follower, write).Wait();
  ASSERT_EQ(c.status(), Response::OK) << c.error();
  for (const Response& response : {a, b, c}) {
    KVResponse kv;
    ASSERT_TRUE(kv.ParseFromString(response.data()));
    EXPECT_EQ(kv.status(), KVResponse::OK);
    EXPECT_EQ(kv.version(), 1u);
  }
  Response read = Call(on_follower, KVCall(KVRequest::GET_WITH_VERSION, "k", 6)).Wait();
  ASSERT_EQ(read.status(), Response::OK) << read.error();
  KVResponse kv;
  ASSERT_TRUE(kv.ParseFromString(read.data()));
  EXPECT_EQ(kv.version(), 1u);
}

TEST_F(RaftClusterTest, ReadConsistencyAndStatusRequests) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  ConsensusManager* manager = replicas_[leader == 3 ? 1 : 3].server->manager();
  Response stale = Call(manager, KVCall(KVRequest::GET, "absent", 1, "stale")).Wait();
  EXPECT_EQ(stale.status(), Response::OK);
  EXPECT_EQ(stale.error(), "stale read");
  Response bad = Call(manager, KVCall(KVRequest::GET, "absent", 2, "eventual")).Wait();
  EXPECT_EQ(bad.status(), Response::INVALID_REQUEST);

  Request query = KVCall(KVRequest::GET, "absent", 3);
  query.set_type(Request::TYPE_QUERY);
  Response queried = Call(manager, query).Wait();
  EXPECT_EQ(queried.status(), Response::OK) << queried.error();
  KVResponse not_found;
  ASSERT_TRUE(not_found.ParseFromString(queried.data()));
  EXPECT_EQ(not_found.status(), KVResponse::NOT_FOUND);
  Request write_query = KVCall(KVRequest::SET, "k", 4);
  write_query.set_type(Request::TYPE_QUERY);
  EXPECT_EQ(Call(manager, write_query).Wait().status(), Response::INVALID_REQUEST);

  Request status_request;
  status_request.set_type(Request::TYPE_STATUS);
  Response answer = Call(manager, status_request).Wait();
  ASSERT_EQ(answer.status(), Response::OK);
  ReplicaStatus status;
  ASSERT_TRUE(status.ParseFromString(answer.data()));
  EXPECT_EQ(status.protocol(), "raft");
  EXPECT_EQ(status.role(), "follower");
  EXPECT_EQ(status.leader_id(), leader);
  EXPECT_GE(status.term(), 1u);
}

// Snapshots every 20 entries, a tail of 5, and chunks small enough that a snapshot takes many.
class RaftSnapshotClusterTest : public RaftClusterTest {
 protected:
  void Configure(ResConfigData* data) override {
    data->mutable_raft_config()->set_snapshot_threshold(20);
    data->mutable_raft_config()->set_log_tail_after_snapshot(5);
    data->mutable_raft_config()->set_snapshot_chunk_bytes(512);
  }
};

TEST_F(RaftSnapshotClusterTest, FollowerFarBehindCatchesUpThroughASnapshot) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  const int follower = leader == 3 ? 1 : static_cast<int>(leader) + 1;
  ConsensusManager* leading = replicas_[leader].server->manager();
  ASSERT_EQ(Call(leading, KVCall(KVRequest::SET, "first", 1)).Wait().status(), Response::OK);
  StopReplica(follower);

  constexpr int kWrites = 150;
  for (int i = 0; i < kWrites; ++i) {
    Request set = KVCall(KVRequest::SET, absl::StrCat("key", i), 100 + i);
    Response answer = Call(leading, set).Wait();
    ASSERT_EQ(answer.status(), Response::OK) << i << ": " << answer.error();
  }
  // The leader snapshotted and compacted past everything the follower has.
  ReplicaStatus before = Status(static_cast<int>(leader));
  EXPECT_GT(before.snapshot_index(), 100u);
  EXPECT_GT(before.first_index(), 100u);

  StartReplica(follower);
  ASSERT_TRUE(WaitForApplied(before.applied_index()));
  ReplicaStatus caught_up = Status(follower);
  EXPECT_GE(caught_up.snapshot_index(), before.snapshot_index());
  EXPECT_GE(caught_up.metrics().at("raft_snapshots_installed"), 1);
  EXPECT_GE(Status(static_cast<int>(leader)).metrics().at("raft_snapshots_sent"), 1);
  // The follower acknowledged receiving the whole snapshot before installing it.
  EXPECT_GE(Status(static_cast<int>(leader)).metrics().at("raft_snapshot_installs_awaited"), 1);
  // Its state is the leader's: every key, read from its own storage.
  for (int i = 0; i < kWrites; ++i) {
    const std::string key = absl::StrCat("key", i);
    absl::StatusOr<std::string> mine = replicas_[follower].user_data->Get(key);
    absl::StatusOr<std::string> theirs = replicas_[leader].user_data->Get(key);
    ASSERT_TRUE(mine.ok()) << key << ": " << mine.status();
    ASSERT_TRUE(theirs.ok()) << key;
    EXPECT_EQ(*mine, *theirs) << key;
  }
  // The leader's log query shows the snapshot and the compacted log.
  LogQuery query;
  query.set_max_records(3);
  Request log_request;
  log_request.set_type(Request::TYPE_CUSTOM_QUERY);
  query.SerializeToString(log_request.mutable_data());
  Response logged = Call(leading, log_request).Wait();
  ASSERT_EQ(logged.status(), Response::OK) << logged.error();
  LogQueryResult log;
  ASSERT_TRUE(log.ParseFromString(logged.data()));
  EXPECT_GT(log.snapshot_index(), 100u);
  EXPECT_GT(log.snapshot_bytes(), 0u);
  EXPECT_EQ(log.first_index(), Status(static_cast<int>(leader)).first_index());
  ASSERT_EQ(log.records_size(), 3);
  EXPECT_EQ(log.records(0).index(), log.first_index());
  EXPECT_EQ(log.records(0).kind(), "normal");
  EXPECT_GE(log.records(0).requests(), 1u);

  // And it keeps replicating, and survives a restart on what it installed.
  ASSERT_EQ(Call(leading, KVCall(KVRequest::SET, "after", 999)).Wait().status(), Response::OK);
  StopReplica(follower);
  StartReplica(follower);
  ASSERT_TRUE(WaitForApplied(Status(static_cast<int>(leader)).applied_index()));
  EXPECT_TRUE(replicas_[follower].user_data->Get("after").ok());
}

Request TransferRequest(int64_t to) {
  AdminRequest admin;
  admin.mutable_transfer_leader()->set_to(to);
  Request request;
  request.set_type(Request::TYPE_ADMIN);
  admin.SerializeToString(request.mutable_data());
  return request;
}

TEST_F(RaftClusterTest, LeadershipTransfersToTheChosenFollowerWithinAnElectionTimeout) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  const int64_t target = leader == 3 ? 1 : leader + 1;
  ConsensusManager* manager = replicas_[leader].server->manager();
  ASSERT_EQ(Call(manager, KVCall(KVRequest::SET, "before", 1)).Wait().status(), Response::OK);

  // Answered once the old leader sees the target lead (how fast is for benchmarks to say).
  Response moved = Call(manager, TransferRequest(target)).Wait();
  ASSERT_EQ(moved.status(), Response::OK) << moved.error();
  EXPECT_EQ(moved.leader_id(), target);
  EXPECT_EQ(WaitForLeader(), target);
  EXPECT_EQ(
      Call(replicas_[target].server->manager(), KVCall(KVRequest::SET, "after", 2)).Wait().status(),
      Response::OK);
}

TEST_F(RaftClusterTest, TransferRequestsThatCannotBeDoneSayWhy) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  const int64_t follower = leader == 3 ? 1 : leader + 1;
  ConsensusManager* leading = replicas_[leader].server->manager();

  Response self = Call(leading, TransferRequest(leader)).Wait();
  EXPECT_EQ(self.status(), Response::OK);
  EXPECT_EQ(self.error(), "already the leader");
  Response unknown = Call(leading, TransferRequest(9)).Wait();
  EXPECT_EQ(unknown.status(), Response::INVALID_REQUEST);
  EXPECT_NE(unknown.error().find("9"), std::string::npos) << unknown.error();
  Response not_leader = Call(replicas_[follower].server->manager(), TransferRequest(leader)).Wait();
  EXPECT_EQ(not_leader.status(), Response::NO_LEADER);
  EXPECT_EQ(not_leader.leader_id(), leader);
  Request garbage;
  garbage.set_type(Request::TYPE_ADMIN);
  garbage.set_data("\xff\xff not an AdminRequest");
  EXPECT_EQ(Call(leading, garbage).Wait().status(), Response::INVALID_REQUEST);
  EXPECT_EQ(WaitForLeader(), leader) << "a refused transfer changed the leader";
}

Request MembershipRequest(AdminRequest admin) {
  Request request;
  request.set_type(Request::TYPE_ADMIN);
  admin.SerializeToString(request.mutable_data());
  return request;
}

Request AddReplicaRequest(int64_t id, const std::string& address) {
  AdminRequest admin;
  admin.mutable_add_replica()->set_id(id);
  admin.mutable_add_replica()->set_address(address);
  admin.set_timeout_ms(300);
  return MembershipRequest(admin);
}

Request RemoveReplicaRequest(int64_t id) {
  AdminRequest admin;
  admin.mutable_remove_replica()->set_id(id);
  return MembershipRequest(admin);
}

TEST_F(RaftClusterTest, MembershipRequestsThatCannotBeDoneSayWhy) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  const int64_t follower = leader == 3 ? 1 : leader + 1;
  ConsensusManager* leading = replicas_[leader].server->manager();

  Response not_leader =
      Call(replicas_[follower].server->manager(), RemoveReplicaRequest(leader)).Wait();
  EXPECT_EQ(not_leader.status(), Response::NO_LEADER);
  EXPECT_EQ(not_leader.leader_id(), leader);
  Response unknown = Call(leading, RemoveReplicaRequest(9)).Wait();
  EXPECT_EQ(unknown.status(), Response::INVALID_REQUEST);
  EXPECT_NE(unknown.error().find("not a member"), std::string::npos) << unknown.error();
  Response no_address = Call(leading, AddReplicaRequest(9, "")).Wait();
  EXPECT_EQ(no_address.status(), Response::INVALID_REQUEST);
  EXPECT_NE(no_address.error().find("address"), std::string::npos) << no_address.error();
  Response bad_address = Call(leading, AddReplicaRequest(9, "127.0.0.1:99999")).Wait();
  EXPECT_EQ(bad_address.status(), Response::INVALID_REQUEST);
  Response voter = Call(leading, AddReplicaRequest(follower, "")).Wait();
  EXPECT_EQ(voter.status(), Response::OK);
  EXPECT_NE(voter.error().find("already a voter"), std::string::npos) << voter.error();

  // A replica that is not running is added as a learner, but never catches up to be promoted.
  Response absent = Call(leading, AddReplicaRequest(9, "127.0.0.1:1")).Wait();
  EXPECT_EQ(absent.status(), Response::TIMEOUT);
  EXPECT_NE(absent.error().find("did not catch up"), std::string::npos) << absent.error();
  ReplicaStatus status = Status(static_cast<int>(leader));
  EXPECT_EQ(std::vector<int64_t>(status.learners().begin(), status.learners().end()),
            std::vector<int64_t>{9});
  EXPECT_EQ(status.membership(), "voter");
  // Writes go on: a learner is not needed for a majority.
  EXPECT_EQ(Call(leading, KVCall(KVRequest::SET, "with a learner", 1)).Wait().status(),
            Response::OK);
  Response removed = Call(leading, RemoveReplicaRequest(9)).Wait();
  ASSERT_EQ(removed.status(), Response::OK) << removed.error();
  EXPECT_EQ(Status(static_cast<int>(leader)).learners_size(), 0);
  EXPECT_EQ(WaitForLeader(), leader);
}

using testing_util::RecordingStorage;

class RaftAtomicApplyTest : public RaftClusterTest {
 protected:
  void SetUp() override {
    replicas_.resize(4);
    for (int id = 1; id <= 3; ++id) {
      auto recording = std::make_unique<RecordingStorage>(
          NewMemoryStorage(), absl::StrCat(kRaftStatePrefix, "applied_index"));
      recording_[id] = recording.get();
      replicas_[id].storage = std::move(recording);
    }
    RaftClusterTest::SetUp();
  }

  RecordingStorage* recording_[4] = {};
};

// A crash can never leave a batch's state written without its applied index (which would apply
// it again at replay): every write of user data carries the applied index with it.
TEST_F(RaftAtomicApplyTest, StateAndAppliedIndexAreOneWrite) {
  const int64_t leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  ConsensusManager* leading = replicas_[leader].server->manager();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Call(leading, KVCall(KVRequest::SET, absl::StrCat("k", i), i)).Wait().status(),
              Response::OK);
  }
  ASSERT_TRUE(WaitForApplied(Status(static_cast<int>(leader)).applied_index()));
  for (int id = 1; id <= 3; ++id) {
    int user_writes = 0;
    for (const RecordingStorage::WriteShape& shape : recording_[id]->writes()) {
      if (!shape.user_data) continue;
      ++user_writes;
      EXPECT_TRUE(shape.applied_index) << "replica " << id << " wrote user data alone";
    }
    EXPECT_GE(user_writes, 1) << "replica " << id;
  }
}

// A Storage whose writes of user data fail once `failing` is set, as a full or broken disk's.
class FailingStorage : public ForwardingStorage {
 public:
  FailingStorage(std::unique_ptr<Storage> base, const std::atomic<bool>* failing)
      : ForwardingStorage(std::move(base)), failing_(failing) {}

  absl::Status Write(const WriteBatch& batch, bool sync) override {
    for (const WriteBatch::Op& op : batch.ops()) {
      if (failing_->load() && absl::StartsWith(op.key, kUserDataPrefix)) {
        return absl::InternalError("IO error: No space left on device");
      }
    }
    return ForwardingStorage::Write(batch, sync);
  }

 private:
  const std::atomic<bool>* const failing_;
};

class RaftFailStopTest : public RaftClusterTest {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    replicas_.resize(4);
    for (int id = 1; id <= 3; ++id) {
      replicas_[id].storage = std::make_unique<FailingStorage>(NewMemoryStorage(), &failing_);
    }
    RaftClusterTest::SetUp();
  }

  std::atomic<bool> failing_{false};
};

// A replica that cannot store a batch's state must not answer the write OK: it stops, and a
// restart replays the batch from its log.
TEST_F(RaftFailStopTest, FailedStateWriteStopsTheReplicaInsteadOfAnswering) {
  EXPECT_EXIT(
      {
        const int64_t leader = WaitForLeader();
        if (leader == 0) std::_Exit(3);
        ConsensusManager* leading = replicas_[leader].server->manager();
        if (Call(leading, KVCall(KVRequest::SET, "before", 1)).Wait().status() != Response::OK) {
          std::_Exit(4);
        }
        failing_.store(true);
        Call(leading, KVCall(KVRequest::SET, "lost", 2)).Wait();
      },
      testing::ExitedWithCode(1),
      "cannot store the state of index [0-9]+: .*No space left on device; stopping the replica");
}

TEST(ConsensusManagerRaftOpenTest, DamagedLogIsDataLoss) {
  ResConfigData data;
  data.set_allow_plaintext(true);
  RegionInfo* region = data.add_region();
  for (int id = 1; id <= 3; ++id) {
    ReplicaInfo* info = region->add_replica_info();
    info->set_id(id);
    info->set_ip("127.0.0.1");
    info->set_port(30000 + id);
  }
  data.set_consensus_protocol("raft");
  auto storage = NewMemoryStorage();
  ASSERT_TRUE(storage->Put("raft_log_m", "not a log record").ok());
  PrefixAllocator prefixes;
  auto manager = ConsensusManagerRaft::Create(ResDBConfig(data, 1),
                                              std::make_unique<KVExecutor>(storage.get()),
                                              storage.get(), &prefixes, nullptr);
  ASSERT_FALSE(manager.ok());
  EXPECT_EQ(manager.status().code(), absl::StatusCode::kDataLoss) << manager.status();
  EXPECT_NE(std::string(manager.status().message()).find("raft log"), std::string::npos);
}

}  // namespace
}  // namespace resdb
