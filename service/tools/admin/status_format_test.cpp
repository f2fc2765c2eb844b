#include "service/tools/admin/status_format.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace resdb {
namespace {

using testing::HasSubstr;
using testing::Not;

ReplicaInfo Replica(int64_t id) {
  ReplicaInfo info;
  info.set_id(id);
  info.set_ip("127.0.0.1");
  info.set_port(10000 + id);
  return info;
}

ReplicaStatus Raft(int64_t id, const std::string& role) {
  ReplicaStatus status;
  status.set_id(id);
  status.set_protocol("raft");
  status.set_role(role);
  status.set_term(3);
  status.set_leader_id(1);
  status.set_commit_index(50);
  status.set_applied_index(49);
  status.set_first_index(1);
  status.set_last_index(51);
  status.set_snapshot_index(0);
  status.set_membership("voter");
  for (int64_t voter : {1, 2, 3}) status.add_voters(voter);
  status.add_learners(4);
  status.set_state_digest(std::string("\xfe\xdc\xba\x98\x76\x54\x32\x10\x00", 9));
  return status;
}

ReplicaStatus Pbft(int64_t id) {
  ReplicaStatus status;
  status.set_id(id);
  status.set_protocol("pbft");
  status.set_role(id == 1 ? "primary" : "backup");
  status.set_view(2);
  status.set_primary_id(1);
  status.set_executed_seq(700);
  status.set_stable_checkpoint(600);
  status.set_state_digest(std::string("\x01\x23\x45\x67\x89\xab\xcd\xef\xff\xff", 10));
  return status;
}

google::protobuf::ListValue ParseArray(const std::string& json) {
  google::protobuf::ListValue list;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &list);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << json;
  return list;
}

TEST(JsonQuoteTest, EscapesWhatJsonRequires) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
  EXPECT_EQ(JsonQuote(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(JsonQuote("\x01"), "\"\\u0001\"");
}

TEST(JsonQuoteTest, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonQuote("gr\xC3\xBC\xC3\x9F"), "\"gr\xC3\xBC\xC3\x9F\"");
  EXPECT_EQ(JsonQuote("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(JsonQuote("a\xFF"
                      "b"),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_EQ(JsonQuote("\xC3"), "\"\xEF\xBF\xBD\"");                  // truncated sequence
  EXPECT_EQ(JsonQuote("\xC0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");  // overlong NUL
  EXPECT_EQ(JsonQuote("\xED\xA0\x80"),                               // surrogate
            "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(StatusJsonTest, RaftAndErrorObjects) {
  std::vector<ReplicaStatusResult> results = {
      {Replica(1), Raft(1, "leader")},
      {Replica(2), absl::UnavailableError("replica 2 at 127.0.0.1:10002 is \"down\"\nreally")},
  };
  const std::string json = StatusJson(results);
  google::protobuf::ListValue list = ParseArray(json);
  ASSERT_EQ(list.values_size(), 2);

  const auto& live = list.values(0).struct_value().fields();
  EXPECT_EQ(live.size(), 14u);
  EXPECT_EQ(live.at("id").number_value(), 1);
  EXPECT_EQ(live.at("protocol").string_value(), "raft");
  EXPECT_EQ(live.at("role").string_value(), "leader");
  EXPECT_EQ(live.at("term").number_value(), 3);
  EXPECT_EQ(live.at("leader_id").number_value(), 1);
  EXPECT_EQ(live.at("commit_index").number_value(), 50);
  EXPECT_EQ(live.at("applied_index").number_value(), 49);
  EXPECT_EQ(live.at("first_index").number_value(), 1);
  EXPECT_EQ(live.at("last_index").number_value(), 51);
  EXPECT_EQ(live.at("snapshot_index").number_value(), 0);
  EXPECT_EQ(live.at("membership").string_value(), "voter");
  EXPECT_EQ(live.at("voters").string_value(), "1,2,3");
  EXPECT_EQ(live.at("learners").string_value(), "4");
  EXPECT_EQ(live.at("state_digest").string_value(), "fedcba9876543210");

  const auto& dead = list.values(1).struct_value().fields();
  EXPECT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead.at("id").number_value(), 2);
  EXPECT_EQ(dead.at("error").string_value(), "replica 2 at 127.0.0.1:10002 is \"down\"\nreally");
}

TEST(StatusJsonTest, PbftObjectsHavePbftKeys) {
  const std::string json = StatusJson({{Replica(1), Pbft(1)}});
  google::protobuf::ListValue list = ParseArray(json);
  ASSERT_EQ(list.values_size(), 1);
  const auto& fields = list.values(0).struct_value().fields();
  EXPECT_EQ(fields.size(), 8u);
  EXPECT_EQ(fields.at("role").string_value(), "primary");
  EXPECT_EQ(fields.at("view").number_value(), 2);
  EXPECT_EQ(fields.at("primary_id").number_value(), 1);
  EXPECT_EQ(fields.at("executed_seq").number_value(), 700);
  EXPECT_EQ(fields.at("stable_checkpoint").number_value(), 600);
  EXPECT_EQ(fields.at("state_digest").string_value(), "0123456789abcdef");
  EXPECT_EQ(fields.count("term"), 0u);
}

TEST(StatusJsonTest, MetricsBecomeANestedObject) {
  ReplicaStatus status = Raft(1, "leader");
  (*status.mutable_metrics())["raft_log_fsyncs"] = 12;
  (*status.mutable_metrics())["raft_committed_entries"] = 30;
  google::protobuf::ListValue list = ParseArray(StatusJson({{Replica(1), status}}));
  ASSERT_EQ(list.values_size(), 1);
  const auto& fields = list.values(0).struct_value().fields();
  ASSERT_EQ(fields.count("metrics"), 1u);
  const auto& metrics = fields.at("metrics").struct_value().fields();
  EXPECT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics.at("raft_log_fsyncs").number_value(), 12);
  EXPECT_EQ(metrics.at("raft_committed_entries").number_value(), 30);
}

TEST(StatusJsonTest, EmptyResultIsAnEmptyArray) {
  EXPECT_EQ(ParseArray(StatusJson({})).values_size(), 0);
}

TEST(StatusTableTest, RaftColumnsAndErrorRows) {
  const std::string table = StatusTable(
      {{Replica(1), Raft(1, "leader")},
       {Replica(2), absl::UnavailableError("replica 2 at 127.0.0.1:10002 is unreachable")},
       {Replica(3), Raft(3, "follower")}},
      "raft");
  EXPECT_EQ(table,
            "id  protocol  role      term  leader_id  commit_index  applied_index  first_index  "
            "last_index  snapshot_index  membership  voters  learners  state_digest\n"
            "1   raft      leader    3     1          50            49             1            "
            "51          0               voter       1,2,3   4         fedcba9876543210\n"
            "2   error: replica 2 at 127.0.0.1:10002 is unreachable\n"
            "3   raft      follower  3     1          50            49             1            "
            "51          0               voter       1,2,3   4         fedcba9876543210\n");
}

TEST(StatusTableTest, PbftColumns) {
  const std::string table = StatusTable({{Replica(1), Pbft(1)}, {Replica(2), Pbft(2)}}, "raft");
  EXPECT_EQ(
      table,
      "id  protocol  role     view  primary_id  executed_seq  stable_checkpoint  state_digest\n"
      "1   pbft      primary  2     1           700           600                "
      "0123456789abcdef\n"
      "2   pbft      backup   2     1           700           600                "
      "0123456789abcdef\n");
}

TEST(StatusTableTest, NoAnswerUsesTheConfigProtocolAndOneLineErrors) {
  const std::string table =
      StatusTable({{Replica(1), absl::DeadlineExceededError("slow\nreplica")}}, "pbft");
  EXPECT_EQ(table,
            "id  protocol  role  view  primary_id  executed_seq  stable_checkpoint  state_digest\n"
            "1   error: slow replica\n");
}

TEST(StatusTableTest, MixedProtocolsShowDashes) {
  const std::string table =
      StatusTable({{Replica(1), Raft(1, "leader")}, {Replica(2), Pbft(2)}}, "raft");
  EXPECT_THAT(table, HasSubstr("learners  state_digest      view"));
  EXPECT_THAT(table, HasSubstr("-"));
  EXPECT_THAT(table, Not(HasSubstr("error")));
}

TEST(LogFormatTest, TableAndJsonDescribeTheRecords) {
  LogQueryResult result;
  result.set_commit_index(12);
  result.set_first_index(10);
  result.set_last_index(12);
  result.set_snapshot_index(9);
  result.set_snapshot_term(2);
  result.set_snapshot_bytes(4096);
  LogRecord* record = result.add_records();
  record->set_index(10);
  record->set_term(2);
  record->set_kind("normal");
  record->set_requests(3);
  record->set_bytes(900);
  record = result.add_records();
  record->set_index(11);
  record->set_term(3);
  record->set_kind("noop");
  EXPECT_EQ(LogTable(2, result),
            "replica 2: commit_index 12, holds [10, 12], snapshot 9 (term 2, 4096 bytes)\n"
            "index  term  kind    requests  bytes\n"
            "10     2     normal  3         900\n"
            "11     3     noop    0         0\n");
  EXPECT_EQ(LogJson(result),
            "{\"commit_index\": 12, \"first_index\": 10, \"last_index\": 12, "
            "\"snapshot_index\": 9, \"snapshot_term\": 2, \"snapshot_bytes\": 4096, "
            "\"records\": [{\"index\": 10, \"term\": 2, \"kind\": \"normal\", \"requests\": 3, "
            "\"bytes\": 900}, {\"index\": 11, \"term\": 3, \"kind\": \"noop\", "
            "\"requests\": 0, \"bytes\": 0}]}\n");
}

}  // namespace
}  // namespace resdb
