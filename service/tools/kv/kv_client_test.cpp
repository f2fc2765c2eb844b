#include "service/tools/kv/kv_client.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/config/resdb_config.h"
#include "service/tools/kv/fake_replica.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using testing::HasSubstr;

// Generous slack for a loaded 2-core machine; the point is "about the timeout, not forever".
constexpr std::chrono::milliseconds kSlack(5000);

// A client config listing (id, port) replicas on 127.0.0.1, in order.
ResDBConfig ClientConfig(const std::vector<std::pair<int64_t, int>>& replicas,
                         int timeout_ms = 5000) {
  ResConfigData data;
  RegionInfo* region = data.add_region();
  for (const auto& [id, port] : replicas) {
    ReplicaInfo* info = region->add_replica_info();
    info->set_id(id);
    info->set_ip("127.0.0.1");
    info->set_port(port);
  }
  data.set_client_timeout_ms(timeout_ms);
  return ResDBConfig(data, 0);
}

KVRequest ParseKV(const Request& request) {
  KVRequest kv;
  EXPECT_TRUE(kv.ParseFromString(request.data()));
  return kv;
}

std::chrono::milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

TEST(KVClientTest, SetThenGetRoundTrips) {
  FakeReplica replica(1);
  KVClient client(ClientConfig({{1, replica.port()}}));

  ASSERT_TRUE(client.Set("color", "blue").ok());
  absl::StatusOr<std::string> value = client.Get("color");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "blue");

  std::vector<Request> received = replica.ReceivedRequests();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].type(), Request::TYPE_CLIENT_REQUEST);
  EXPECT_EQ(received[0].client_id(), client.GetClientId());
  EXPECT_NE(received[0].client_id(), 0u);
  EXPECT_LT(received[0].request_id(), received[1].request_id());
  EXPECT_EQ(ParseKV(received[0]).cmd(), KVRequest::SET);
  EXPECT_EQ(ParseKV(received[0]).key(), "color");
  EXPECT_EQ(ParseKV(received[0]).value(), "blue");
  EXPECT_EQ(client.GetLastKnownLeader(), 1);
}

TEST(KVClientTest, GetOfAbsentKeyIsNotFound) {
  FakeReplica replica(1);
  KVClient client(ClientConfig({{1, replica.port()}}));
  absl::StatusOr<std::string> value = client.Get("nothing");
  EXPECT_EQ(value.status().code(), absl::StatusCode::kNotFound) << value.status();
}

TEST(KVClientTest, DeleteRangeAndVersionedCalls) {
  FakeReplica replica(1);
  KVClient client(ClientConfig({{1, replica.port()}}));
  for (const char* key : {"a", "b", "c"}) ASSERT_TRUE(client.Set(key, std::string("v") + key).ok());
  ASSERT_TRUE(client.Delete("b").ok());
  EXPECT_EQ(client.Get("b").status().code(), absl::StatusCode::kNotFound);

  auto range = client.GetRange("a", "c");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, (std::vector<std::pair<std::string, std::string>>{{"a", "va"}, {"c", "vc"}}));

  auto v1 = client.SetWithVersion("doc", "one", 0);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, 1u);
  auto v2 = client.SetWithVersion("doc", "two", 1);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(*v2, 2u);
  auto stale = client.SetWithVersion("doc", "lost", 1);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();

  auto latest = client.GetWithVersion("doc");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->value, "two");
  EXPECT_EQ(latest->version, 2u);
  auto first = client.GetWithVersion("doc", 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->value, "one");

  auto history = client.GetHistory("doc");
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].value, "one");
  EXPECT_EQ((*history)[1].version, 2u);

  EXPECT_EQ(client.Set("", "v").code(), absl::StatusCode::kInvalidArgument);
}

TEST(KVClientTest, FollowsNoLeaderHintWithTheSameRequestId) {
  FakeReplica follower(1);
  FakeReplica leader(2);
  follower.AnswerNoLeader(/*leader_hint=*/2);
  KVClient client(ClientConfig({{1, follower.port()}, {2, leader.port()}}));

  ASSERT_TRUE(client.Set("k", "v").ok());

  ASSERT_EQ(follower.ReceivedRequests().size(), 1u);
  ASSERT_EQ(leader.ReceivedRequests().size(), 1u);
  const Request first = follower.ReceivedRequests()[0];
  const Request retry = leader.ReceivedRequests()[0];
  EXPECT_EQ(retry.client_id(), first.client_id());
  EXPECT_EQ(retry.request_id(), first.request_id());
  EXPECT_EQ(retry.data(), first.data());
  EXPECT_EQ(client.GetLastKnownLeader(), 2);

  // The next call goes to the leader directly.
  ASSERT_TRUE(client.Get("k").ok());
  EXPECT_EQ(follower.ReceivedRequests().size(), 1u);
  ASSERT_EQ(leader.ReceivedRequests().size(), 2u);
  EXPECT_GT(leader.ReceivedRequests()[1].request_id(), retry.request_id());
}

TEST(KVClientTest, UnavailableReplicaIsRetriedElsewhereWithTheSameRequestId) {
  FakeReplica busy(1);
  FakeReplica healthy(2);
  busy.AnswerStatus(Response::UNAVAILABLE, "shutting down");
  KVClient client(ClientConfig({{1, busy.port()}, {2, healthy.port()}}));

  ASSERT_TRUE(client.Set("k", "v").ok());
  ASSERT_EQ(busy.ReceivedRequests().size(), 1u);
  ASSERT_EQ(healthy.ReceivedRequests().size(), 1u);
  EXPECT_EQ(busy.ReceivedRequests()[0].request_id(), healthy.ReceivedRequests()[0].request_id());
}

TEST(KVClientTest, SkipsADeadReplica) {
  ClosedPort dead;
  FakeReplica alive(2);
  KVClient client(ClientConfig({{1, dead.port()}, {2, alive.port()}}));

  ASSERT_TRUE(client.Set("k", "v").ok());
  absl::StatusOr<std::string> value = client.Get("k");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "v");
  EXPECT_EQ(alive.ReceivedRequests().size(), 2u);
}

TEST(KVClientTest, AllReplicasDeadIsUnavailableNamingTheAddress) {
  ClosedPort dead;
  KVClient client(ClientConfig({{1, dead.port()}}, /*timeout_ms=*/300));
  const Clock::time_point start = Clock::now();
  absl::Status status = client.Set("k", "v");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(absl::StrCat("127.0.0.1:", dead.port())));
  EXPECT_LT(Since(start), std::chrono::milliseconds(300) + kSlack);
}

TEST(KVClientTest, HangingReplicaGivesDeadlineExceededAfterAboutTheTimeout) {
  FakeReplica replica(1);
  replica.Hang();
  KVClient client(ClientConfig({{1, replica.port()}}));
  client.SetTimeoutMs(300);

  const Clock::time_point start = Clock::now();
  absl::Status status = client.Set("k", "v");
  const std::chrono::milliseconds elapsed = Since(start);

  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("300 ms"));
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::milliseconds(300) + kSlack);
}

TEST(KVClientTest, NoLeaderAnywhereIsUnavailableNamingTheLastKnownLeader) {
  FakeReplica a(1);
  FakeReplica b(2);
  // Both point at replica 7, which the client config does not list.
  a.AnswerNoLeader(7);
  b.AnswerNoLeader(7);
  KVClient client(ClientConfig({{1, a.port()}, {2, b.port()}}, /*timeout_ms=*/300));

  const Clock::time_point start = Clock::now();
  absl::Status status = client.Set("k", "v");

  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("no leader"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("last known leader: 7"));
  EXPECT_LT(Since(start), std::chrono::milliseconds(300) + kSlack);
  // Both replicas were asked, every time with the same request id.
  ASSERT_FALSE(a.ReceivedRequests().empty());
  ASSERT_FALSE(b.ReceivedRequests().empty());
  EXPECT_EQ(a.ReceivedRequests()[0].request_id(), b.ReceivedRequests()[0].request_id());
  EXPECT_EQ(a.ReceivedRequests().back().request_id(), a.ReceivedRequests()[0].request_id());
}

TEST(KVClientTest, ReplicaStatusesMapToTypedErrors) {
  FakeReplica replica(1);
  KVClient client(ClientConfig({{1, replica.port()}}));

  replica.AnswerStatus(Response::INVALID_REQUEST, "bad batch");
  EXPECT_EQ(client.Set("k", "v").code(), absl::StatusCode::kInvalidArgument);

  replica.AnswerStatus(Response::UNIMPLEMENTED, "stale reads are not supported by pbft");
  absl::Status unimplemented = client.Set("k", "v");
  EXPECT_EQ(unimplemented.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(unimplemented.message()),
              HasSubstr("stale reads are not supported by pbft"));

  replica.AnswerStatus(Response::TIMEOUT, "not committed in time");
  absl::Status timeout = client.Set("k", "v");
  EXPECT_EQ(timeout.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(timeout.message()), HasSubstr("5000 ms"));

  replica.AnswerStatus(Response::INTERNAL, "disk full");
  absl::Status internal = client.Set("k", "v");
  EXPECT_EQ(internal.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(internal.message()), HasSubstr("disk full"));
}

TEST(KVClientTest, ConsistencyIsSentWithReadsOnly) {
  FakeReplica replica(1);
  KVClient client(ClientConfig({{1, replica.port()}}));
  client.SetConsistency("stale");

  ASSERT_TRUE(client.Set("k", "v").ok());
  ASSERT_TRUE(client.Get("k").ok());
  ASSERT_TRUE(client.GetRange("", "").ok());

  std::vector<Request> received = replica.ReceivedRequests();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].consistency(), "");
  EXPECT_EQ(received[1].consistency(), "stale");
  EXPECT_EQ(received[2].consistency(), "stale");
}

TEST(KVClientTest, ExecuteReturnsServiceErrorsInTheResponse) {
  FakeReplica replica(1);
  KVClient client(ClientConfig({{1, replica.port()}}));
  KVRequest request;
  request.set_cmd(KVRequest::GET);
  request.set_key("absent");
  absl::StatusOr<KVResponse> response = client.Execute(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status(), KVResponse::NOT_FOUND);
}

TEST(KVClientTest, ClientsPickDistinctIds) {
  ResDBConfig config = ClientConfig({{1, 1}});
  KVClient first(config);
  KVClient second(config);
  EXPECT_NE(first.GetClientId(), 0u);
  EXPECT_NE(first.GetClientId(), second.GetClientId());
}

}  // namespace
}  // namespace resdb
