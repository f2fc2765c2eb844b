#include "interface/kv/kv_client.h"

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/config/resdb_config.h"
#include "service/tools/testing/fake_replica.h"

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;
using testing::HasSubstr;

// Generous slack for a loaded 2-core machine; the point is "about the timeout, not forever".
constexpr std::chrono::milliseconds kSlack(5000);

// A client config listing (id, port) replicas on 127.0.0.1, in order. An empty `protocol`
// leaves consensus_protocol unset, which means PBFT.
ResDBConfig ClientConfig(const std::vector<std::pair<int64_t, int>>& replicas,
                         int timeout_ms = 5000, const std::string& protocol = "") {
  ResConfigData data;
  data.set_allow_plaintext(true);
  RegionInfo* region = data.add_region();
  for (const auto& [id, port] : replicas) {
    ReplicaInfo* info = region->add_replica_info();
    info->set_id(id);
    info->set_ip("127.0.0.1");
    info->set_port(port);
  }
  data.set_client_timeout_ms(timeout_ms);
  if (!protocol.empty()) data.set_consensus_protocol(protocol);
  return ResDBConfig(data, 0);
}

// The single-replica tests below describe RAFT's leader-following client.
ResDBConfig RaftConfig(const std::vector<std::pair<int64_t, int>>& replicas,
                       int timeout_ms = 5000) {
  return ClientConfig(replicas, timeout_ms, kProtocolRaft);
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
  KVClient client(RaftConfig({{1, replica.port()}}));

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
  KVClient client(RaftConfig({{1, replica.port()}}));
  absl::StatusOr<std::string> value = client.Get("nothing");
  EXPECT_EQ(value.status().code(), absl::StatusCode::kNotFound) << value.status();
}

TEST(KVClientTest, DeleteRangeAndVersionedCalls) {
  FakeReplica replica(1);
  KVClient client(RaftConfig({{1, replica.port()}}));
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
  KVClient client(RaftConfig({{1, follower.port()}, {2, leader.port()}}));

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
  KVClient client(RaftConfig({{1, busy.port()}, {2, healthy.port()}}));

  ASSERT_TRUE(client.Set("k", "v").ok());
  ASSERT_EQ(busy.ReceivedRequests().size(), 1u);
  ASSERT_EQ(healthy.ReceivedRequests().size(), 1u);
  EXPECT_EQ(busy.ReceivedRequests()[0].request_id(), healthy.ReceivedRequests()[0].request_id());
}

TEST(KVClientTest, SkipsADeadReplica) {
  ClosedPort dead;
  FakeReplica alive(2);
  KVClient client(RaftConfig({{1, dead.port()}, {2, alive.port()}}));

  ASSERT_TRUE(client.Set("k", "v").ok());
  absl::StatusOr<std::string> value = client.Get("k");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "v");
  EXPECT_EQ(alive.ReceivedRequests().size(), 2u);
}

TEST(KVClientTest, AllReplicasDeadIsUnavailableNamingTheAddress) {
  ClosedPort dead;
  KVClient client(RaftConfig({{1, dead.port()}}, /*timeout_ms=*/300));
  const Clock::time_point start = Clock::now();
  absl::Status status = client.Set("k", "v");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(absl::StrCat("127.0.0.1:", dead.port())));
  EXPECT_LT(Since(start), std::chrono::milliseconds(300) + kSlack);
}

TEST(KVClientTest, HangingReplicaGivesDeadlineExceededAfterAboutTheTimeout) {
  FakeReplica replica(1);
  replica.Hang();
  KVClient client(RaftConfig({{1, replica.port()}}));
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
  KVClient client(RaftConfig({{1, a.port()}, {2, b.port()}}, /*timeout_ms=*/300));

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

TEST(KVClientTest, TheDeadlineCuttingALastAttemptShortKeepsTheEarlierReason) {
  FakeReplica lone(1);
  lone.AnswerNoLeader(0);
  // Each answer takes 200 ms and the pauses between attempts grow from 50 ms: the third
  // attempt is in flight when the 600 ms deadline passes, and the failure still says why the
  // earlier ones failed.
  lone.SetDelayMs(200);
  KVClient client(RaftConfig({{1, lone.port()}}, /*timeout_ms=*/600));
  const absl::Status failed = client.Set("k", "v");
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_NE(std::string(failed.message()).find("no leader"), std::string::npos) << failed;
}

TEST(KVClientTest, ReplicaStatusesMapToTypedErrors) {
  FakeReplica replica(1);
  KVClient client(RaftConfig({{1, replica.port()}}));

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
  KVClient client(RaftConfig({{1, replica.port()}}));
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
  KVClient client(RaftConfig({{1, replica.port()}}));
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

// PBFT: four replicas, so f = 1 and a result needs two matching answers.
class PbftClientTest : public ::testing::Test {
 protected:
  PbftClientTest() {
    for (int64_t id = 1; id <= 4; ++id) replicas_.push_back(std::make_unique<FakeReplica>(id));
  }

  ResDBConfig Config(int timeout_ms = 5000, const std::string& protocol = "") {
    std::vector<std::pair<int64_t, int>> list;
    for (const auto& replica : replicas_) list.emplace_back(replica->id(), replica->port());
    return ClientConfig(list, timeout_ms, protocol);
  }

  FakeReplica& replica(int id) { return *replicas_[id - 1]; }

  std::vector<std::unique_ptr<FakeReplica>> replicas_;
};

// A replica's answer to a GET of `value`.
std::string ValueAnswer(const std::string& value) {
  KVResponse response;
  response.set_value(value);
  return response.SerializeAsString();
}

// Polls `done` for up to 5 s: cancellations reach a server asynchronously.
template <typename Predicate>
bool Eventually(Predicate done) {
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST_F(PbftClientTest, ConfigWithoutProtocolWidensSlowCallsToEveryReplicaWithTheSameRequest) {
  // Held answers: no f+1 agree soon, so every replica gets the request before the first
  // answers decide the call.
  for (auto& fake : replicas_) fake->SetDelayMs(300);
  KVClient client(Config());

  ASSERT_TRUE(client.Set("color", "blue").ok());
  ASSERT_TRUE(client.Set("color", "red").ok());

  const std::vector<Request> first = replica(1).ReceivedRequests();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].type(), Request::TYPE_CLIENT_REQUEST);
  EXPECT_EQ(first[0].client_id(), client.GetClientId());
  EXPECT_EQ(ParseKV(first[0]).value(), "blue");
  EXPECT_LT(first[0].request_id(), first[1].request_id());
  for (auto& fake : replicas_) {
    const std::vector<Request> received = fake->ReceivedRequests();
    ASSERT_EQ(received.size(), 2u) << "replica " << fake->id();
    for (size_t i = 0; i < received.size(); ++i) {
      EXPECT_EQ(received[i].client_id(), first[i].client_id());
      EXPECT_EQ(received[i].request_id(), first[i].request_id());
      EXPECT_EQ(received[i].data(), first[i].data());
    }
  }
}

TEST_F(PbftClientTest, AHealthyClusterIsAskedFPlusOneReplicasPerCall) {
  KVClient client(Config());
  ASSERT_TRUE(client.Set("warm", "up").ok());
  size_t before = 0;
  for (auto& fake : replicas_) before += fake->ReceivedRequests().size();
  constexpr int kCalls = 20;
  for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(client.Set("k", absl::StrCat(i)).ok());
  size_t asked = 0;
  for (auto& fake : replicas_) asked += fake->ReceivedRequests().size();
  // Two per call when the first two agree in time; a slow moment may widen a few calls.
  EXPECT_GE(asked - before, 2u * kCalls);
  EXPECT_LE(asked - before, 3u * kCalls);
}

TEST_F(PbftClientTest, AReplicaThatDoesNotAnswerIsNotAskedFirstAgain) {
  replica(2).Hang();
  KVClient client(Config());
  constexpr int kCalls = 12;
  for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(client.Set("k", absl::StrCat(i)).ok()) << i;
  // Calls that asked it first waited for the widening; after that it is asked only when a
  // call widens.
  EXPECT_LE(replica(2).ReceivedRequests().size(), 4u);
}

TEST_F(PbftClientTest, RaftConfigStillAsksOneReplica) {
  KVClient client(Config(5000, kProtocolRaft));
  ASSERT_TRUE(client.Set("k", "v").ok());
  EXPECT_EQ(replica(1).ReceivedRequests().size(), 1u);
  for (int id = 2; id <= 4; ++id) EXPECT_TRUE(replica(id).ReceivedRequests().empty()) << id;
}

TEST_F(PbftClientTest, ADivergentReplicaIsOutvotedEvenWhenItAnswersFirst) {
  replica(1).AnswerData(ValueAnswer("stale"));
  for (int id = 2; id <= 4; ++id) {
    replica(id).AnswerData(ValueAnswer("fresh"));
    replica(id).SetDelayMs(100);
  }
  KVClient client(Config(5000, kProtocolPbft));
  absl::StatusOr<std::string> value = client.Get("k");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "fresh");
}

TEST_F(PbftClientTest, ByzantineGarbageIsOutvoted) {
  // OK with bytes that are no KVResponse, ahead of the correct replicas.
  replica(4).AnswerData(std::string("\xff\xff garbage", 10));
  for (int id = 1; id <= 3; ++id) replica(id).SetDelayMs(100);
  KVClient client(Config());

  ASSERT_TRUE(client.Set("k", "v").ok());
  // At least two of the three correct replicas applied the write, so no two of them can
  // agree on anything but "v".
  absl::StatusOr<std::string> value = client.Get("k");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "v");
}

TEST_F(PbftClientTest, FirstResultConfirmedByFPlusOneWinsAndTheRestAreCancelled) {
  replica(1).AnswerData(ValueAnswer("x"));
  replica(2).AnswerData(ValueAnswer("x"));
  replica(3).AnswerData(ValueAnswer("y"));
  replica(4).AnswerData(ValueAnswer("y"));
  // The "x" answers are held too, so that every replica holds its call when the result is
  // decided: a call cancelled before it reaches a replica leaves no trace there.
  replica(1).SetDelayMs(200);
  replica(2).SetDelayMs(200);
  replica(3).SetDelayMs(3000);
  replica(4).SetDelayMs(3000);
  KVClient client(Config());

  const Clock::time_point start = Clock::now();
  absl::StatusOr<std::string> value = client.Get("k");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "x");
  EXPECT_LT(Since(start), std::chrono::milliseconds(3000));
  EXPECT_TRUE(Eventually([&] {
    return replica(3).CancelledCalls() == 1 && replica(4).CancelledCalls() == 1;
  })) << replica(3).CancelledCalls()
      << " " << replica(4).CancelledCalls();
}

TEST(PbftClientDeadlineTest, OneReplicaUpOfFourIsDeadlineExceededWithTheCounts) {
  FakeReplica alive(1);
  ClosedPort down_a, down_b, down_c;
  KVClient client(
      ClientConfig({{1, alive.port()}, {2, down_a.port()}, {3, down_b.port()}, {4, down_c.port()}},
                   /*timeout_ms=*/500));

  const Clock::time_point start = Clock::now();
  absl::Status status = client.Set("k", "v");
  const std::chrono::milliseconds elapsed = Since(start);

  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("no result confirmed by 2 of 4 replicas within 500 ms; best: 1 matching"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(absl::StrCat("replica 2 at 127.0.0.1:", down_a.port())));
  EXPECT_GE(elapsed, std::chrono::milliseconds(450));
  EXPECT_LT(elapsed, std::chrono::milliseconds(500) + kSlack);
  ASSERT_FALSE(alive.ReceivedRequests().empty());
}

TEST_F(PbftClientTest, HangingReplicasGiveDeadlineExceededAfterAboutTheTimeout) {
  for (auto& fake : replicas_) fake->Hang();
  KVClient client(Config(/*timeout_ms=*/300));

  const Clock::time_point start = Clock::now();
  absl::Status status = client.Set("k", "v");
  const std::chrono::milliseconds elapsed = Since(start);

  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("within 300 ms; best: 0 matching"));
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::milliseconds(300) + kSlack);
}

TEST_F(PbftClientTest, RetriesKeepTheRequestIds) {
  for (auto& fake : replicas_) fake->FailNext(2, Response::UNAVAILABLE, "warming up");
  KVClient client(Config());

  ASSERT_TRUE(client.Set("k", "v").ok());

  const Request first = replica(1).ReceivedRequests().at(0);
  int retried = 0;
  for (auto& fake : replicas_) {
    const std::vector<Request> received = fake->ReceivedRequests();
    for (const Request& request : received) {
      EXPECT_EQ(request.client_id(), first.client_id());
      EXPECT_EQ(request.request_id(), first.request_id());
      EXPECT_EQ(request.data(), first.data());
    }
    if (received.size() >= 3) ++retried;
  }
  EXPECT_GE(retried, 2);
}

TEST_F(PbftClientTest, DisagreementIsAskedAgainUntilFPlusOneAgree) {
  replica(1).AnswerData(ValueAnswer("a"));
  replica(2).AnswerData(ValueAnswer("b"));
  replica(3).AnswerData(ValueAnswer("c"));
  replica(4).AnswerData(ValueAnswer("d"));
  KVClient client(Config());

  // Replica 2 comes round to "a" while the client keeps asking.
  std::thread change([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    replica(2).AnswerData(ValueAnswer("a"));
  });
  absl::StatusOr<std::string> value = client.Get("k");
  change.join();

  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "a");
  const std::vector<Request> received = replica(2).ReceivedRequests();
  ASSERT_GE(received.size(), 2u);
  EXPECT_EQ(received.front().request_id(), received.back().request_id());
}

TEST_F(PbftClientTest, AgreedRejectionsMapToTypedErrors) {
  KVClient client(Config());

  for (auto& fake : replicas_) fake->AnswerStatus(Response::INVALID_REQUEST, "bad batch");
  absl::Status invalid = client.Set("k", "v");
  EXPECT_EQ(invalid.code(), absl::StatusCode::kInvalidArgument) << invalid;
  EXPECT_THAT(std::string(invalid.message()), HasSubstr("bad batch"));

  for (auto& fake : replicas_) {
    fake->AnswerStatus(Response::UNIMPLEMENTED, "stale reads are not supported by pbft");
  }
  absl::Status unimplemented = client.Set("k", "v");
  EXPECT_EQ(unimplemented.code(), absl::StatusCode::kUnimplemented) << unimplemented;
  EXPECT_THAT(std::string(unimplemented.message()),
              HasSubstr("stale reads are not supported by pbft"));

  for (auto& fake : replicas_) fake->AnswerStatus(Response::INTERNAL, "disk full");
  absl::Status internal = client.Set("k", "v");
  EXPECT_EQ(internal.code(), absl::StatusCode::kInternal) << internal;
  EXPECT_THAT(std::string(internal.message()), HasSubstr("disk full"));
}

TEST_F(PbftClientTest, ALoneRejectionIsOutvoted) {
  replica(1).AnswerStatus(Response::INVALID_REQUEST, "forged");
  for (int id = 2; id <= 4; ++id) replica(id).SetDelayMs(100);
  KVClient client(Config());
  absl::Status status = client.Set("k", "v");
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(PbftClientTest, ConcurrentCallsShareOneClient) {
  KVClient client(Config());
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 10;
  std::vector<std::thread> threads;
  std::vector<absl::Status> failures(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&client, &failures, t] {
      for (int i = 0; i < kCallsPerThread && failures[t].ok(); ++i) {
        failures[t] = client.Set(absl::StrCat("key", t, "-", i), "v");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : failures) EXPECT_TRUE(status.ok()) << status;

  std::set<uint64_t> request_ids;
  for (auto& fake : replicas_) {
    for (const Request& request : fake->ReceivedRequests())
      request_ids.insert(request.request_id());
  }
  EXPECT_EQ(request_ids.size(), static_cast<size_t>(kThreads * kCallsPerThread));
}

}  // namespace
}  // namespace resdb
