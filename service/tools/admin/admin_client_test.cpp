#include "service/tools/admin/admin_client.h"

#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/tools/testing/fake_status_replica.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using testing::HasSubstr;

// Generous slack for a loaded 2-core machine (and sanitizers): "about the timeout".
constexpr std::chrono::milliseconds kSlack(5000);
constexpr int64_t kMaxBytes = 1 << 20;

ReplicaInfo Replica(int64_t id, int port) {
  ReplicaInfo info;
  info.set_id(id);
  info.set_ip("127.0.0.1");
  info.set_port(port);
  return info;
}

// A plaintext client config whose messages are bounded by `max_bytes` (<= 0: unbounded).
ResDBConfig Client(int64_t max_bytes) {
  ResConfigData data;
  data.set_allow_plaintext(true);
  data.set_max_message_bytes(max_bytes);
  return ResDBConfig(data, 0);
}

ReplicaStatus RaftStatus(int64_t id) {
  ReplicaStatus status;
  status.set_id(id);
  status.set_protocol("raft");
  status.set_role("leader");
  status.set_term(7);
  status.set_leader_id(id);
  status.set_commit_index(120);
  status.set_applied_index(118);
  status.set_first_index(100);
  status.set_last_index(121);
  status.set_snapshot_index(99);
  (*status.mutable_metrics())["raft_elections"] = 3;
  return status;
}

std::chrono::milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

TEST(AdminClientTest, GetReplicaStatusRoundTrips) {
  const ReplicaStatus expected = RaftStatus(2);
  FakeStatusReplica fake(expected);
  absl::StatusOr<ReplicaStatus> status =
      GetReplicaStatus(Replica(2, fake.port()), Client(kMaxBytes), std::chrono::milliseconds(5000));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(fake.calls(), 1);
}

TEST(AdminClientTest, StatusWithoutIdGetsTheConfiguredOne) {
  ReplicaStatus anonymous = RaftStatus(0);
  FakeStatusReplica fake(anonymous);
  absl::StatusOr<ReplicaStatus> status =
      GetReplicaStatus(Replica(4, fake.port()), Client(0), std::chrono::milliseconds(5000));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->id(), 4);
}

TEST(AdminClientTest, StatusOfAnotherReplicaIsAnError) {
  FakeStatusReplica fake(RaftStatus(3));
  absl::StatusOr<ReplicaStatus> status =
      GetReplicaStatus(Replica(1, fake.port()), Client(kMaxBytes), std::chrono::milliseconds(5000));
  EXPECT_EQ(status.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.status().message(), HasSubstr("replica 3"));
}

TEST(AdminClientTest, RefusedConnectionErrorsNamingTheReplica) {
  ClosedPort dead;
  const auto start = Clock::now();
  absl::StatusOr<ReplicaStatus> status =
      GetReplicaStatus(Replica(5, dead.port()), Client(kMaxBytes), std::chrono::milliseconds(500));
  EXPECT_LT(Since(start), std::chrono::milliseconds(500) + kSlack);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.status().code() == absl::StatusCode::kUnavailable ||
              status.status().code() == absl::StatusCode::kDeadlineExceeded)
      << status.status();
  EXPECT_THAT(status.status().message(),
              HasSubstr("replica 5 at 127.0.0.1:" + std::to_string(dead.port())));
}

TEST(AdminClientTest, SilentReplicaErrorsWithinTheTimeout) {
  FakeStatusReplica fake(RaftStatus(1));
  fake.Hang();
  const auto start = Clock::now();
  absl::StatusOr<ReplicaStatus> status =
      GetReplicaStatus(Replica(1, fake.port()), Client(kMaxBytes), std::chrono::milliseconds(300));
  const std::chrono::milliseconds took = Since(start);
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::milliseconds(300) + kSlack);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kDeadlineExceeded) << status.status();
  EXPECT_THAT(status.status().message(), HasSubstr("replica 1 at 127.0.0.1:"));
  EXPECT_THAT(status.status().message(), HasSubstr("300 ms"));
}

TEST(AdminClientTest, ResponseStatusesMapToErrors) {
  FakeStatusReplica fake(RaftStatus(1));
  const ReplicaInfo replica = Replica(1, fake.port());
  const std::chrono::milliseconds timeout(5000);

  fake.AnswerError(Response::UNIMPLEMENTED, "no status here");
  absl::StatusOr<ReplicaStatus> status = GetReplicaStatus(replica, Client(kMaxBytes), timeout);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.status().message(), HasSubstr("no status here"));
  EXPECT_THAT(status.status().message(), HasSubstr("replica 1 at"));

  fake.AnswerError(Response::INTERNAL, "boom");
  EXPECT_EQ(GetReplicaStatus(replica, Client(kMaxBytes), timeout).status().code(),
            absl::StatusCode::kInternal);

  fake.AnswerError(Response::UNAVAILABLE, "starting");
  EXPECT_EQ(GetReplicaStatus(replica, Client(kMaxBytes), timeout).status().code(),
            absl::StatusCode::kUnavailable);

  fake.AnswerError(Response::PERMISSION_DENIED, "not an admin");
  EXPECT_EQ(GetReplicaStatus(replica, Client(kMaxBytes), timeout).status().code(),
            absl::StatusCode::kPermissionDenied);

  fake.AnswerRawData("\xff\xff\xff");
  status = GetReplicaStatus(replica, Client(kMaxBytes), timeout);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.status().message(), HasSubstr("not a ReplicaStatus"));
}

TEST(AdminClientTest, NonPositiveTimeoutIsInvalid) {
  EXPECT_EQ(GetReplicaStatus(Replica(1, 1), Client(kMaxBytes), std::chrono::milliseconds(0))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AdminClientTest, ClusterStatusHasOneResultPerReplicaInConfigOrder) {
  FakeStatusReplica live(RaftStatus(2));
  ClosedPort dead;
  FakeStatusReplica silent(RaftStatus(3));
  silent.Hang();

  ResConfigData data;
  data.set_allow_plaintext(true);
  RegionInfo* region = data.add_region();
  *region->add_replica_info() = Replica(1, dead.port());
  *region->add_replica_info() = Replica(2, live.port());
  *region->add_replica_info() = Replica(3, silent.port());
  const ResDBConfig config(data, 0);

  const auto start = Clock::now();
  std::vector<ReplicaStatusResult> results =
      GetClusterStatus(config, std::chrono::milliseconds(400));
  // In parallel: about one timeout, not the sum of them.
  EXPECT_LT(Since(start), std::chrono::milliseconds(400) + kSlack);

  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].first.id(), 1);
  EXPECT_FALSE(results[0].second.ok());
  EXPECT_THAT(results[0].second.status().message(), HasSubstr("replica 1 at 127.0.0.1:"));

  EXPECT_EQ(results[1].first.id(), 2);
  ASSERT_TRUE(results[1].second.ok()) << results[1].second.status();
  EXPECT_EQ(results[1].second->role(), "leader");
  EXPECT_EQ(results[1].second->commit_index(), 120u);

  EXPECT_EQ(results[2].first.id(), 3);
  EXPECT_EQ(results[2].second.status().code(), absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace resdb
