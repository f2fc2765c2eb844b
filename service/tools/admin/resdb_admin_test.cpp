// Runs the resdb_admin binary as a user would and checks its output and exit status.

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "service/tools/testing/fake_status_replica.h"
#include "service/tools/testing/tool_runner.h"

namespace resdb {
namespace {

using testing::HasSubstr;
using testing::Not;
using testing::StartsWith;

using testing_util::ReadFile;
using testing_util::RunResult;
using testing_util::TempDir;

RunResult RunTool(const std::vector<std::string>& args) {
  return testing_util::RunBinary(testing_util::RunfilePath("service/tools/admin/resdb_admin"),
                                 args);
}

// Writes a client config listing replicas 1..n on 127.0.0.1 at `ports`.
std::string WriteConfig(const std::vector<int>& ports, const std::string& protocol) {
  std::vector<std::string> replicas;
  for (size_t i = 0; i < ports.size(); ++i) {
    replicas.push_back(
        absl::StrCat("{\"id\": ", i + 1, ", \"ip\": \"127.0.0.1\", \"port\": ", ports[i], "}"));
  }
  const std::string path = absl::StrCat(TempDir(), "/", protocol, ".config");
  std::ofstream(path) << "{\"region\": [{\"replica_info\": [" << absl::StrJoin(replicas, ", ")
                      << "]}], \"consensus_protocol\": \"" << protocol
                      << "\", \"allow_plaintext\": true}\n";
  return path;
}

ReplicaStatus RaftStatus(int64_t id, const std::string& role) {
  ReplicaStatus status;
  status.set_id(id);
  status.set_protocol("raft");
  status.set_role(role);
  status.set_term(4);
  status.set_leader_id(1);
  status.set_commit_index(31);
  status.set_applied_index(30);
  status.set_first_index(11);
  status.set_last_index(32);
  status.set_snapshot_index(10);
  return status;
}

ReplicaStatus PbftStatus(int64_t id) {
  ReplicaStatus status;
  status.set_id(id);
  status.set_protocol("pbft");
  status.set_role(id == 1 ? "primary" : "backup");
  status.set_view(5);
  status.set_primary_id(1);
  status.set_executed_seq(250);
  status.set_stable_checkpoint(200);
  return status;
}

google::protobuf::ListValue ParseArray(const std::string& json) {
  google::protobuf::ListValue list;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &list);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << json;
  return list;
}

// The tool's failure contract: exactly one line on stderr, prefixed with the tool's name.
void ExpectOneErrorLine(const RunResult& result) {
  EXPECT_THAT(result.err, StartsWith("resdb_admin: "));
  ASSERT_FALSE(result.err.empty());
  EXPECT_EQ(result.err.back(), '\n') << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

class ResDBAdminTest : public ::testing::Test {
 protected:
  ResDBAdminTest()
      : config_(WriteConfig({leader_.port(), dead_.port(), follower_.port()}, "raft")) {}

  FakeStatusReplica leader_{RaftStatus(1, "leader")};
  ClosedPort dead_;
  FakeStatusReplica follower_{RaftStatus(3, "follower")};
  std::string config_;
};

TEST_F(ResDBAdminTest, JsonHasLiveFieldsAndDeadError) {
  RunResult result = RunTool({"--config", config_, "status", "--json", "--timeout_ms", "2000"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  google::protobuf::ListValue list = ParseArray(result.out);
  ASSERT_EQ(list.values_size(), 3) << result.out;

  const auto& leader = list.values(0).struct_value().fields();
  EXPECT_EQ(leader.at("id").number_value(), 1);
  EXPECT_EQ(leader.at("protocol").string_value(), "raft");
  EXPECT_EQ(leader.at("role").string_value(), "leader");
  EXPECT_EQ(leader.at("term").number_value(), 4);
  EXPECT_EQ(leader.at("leader_id").number_value(), 1);
  EXPECT_EQ(leader.at("commit_index").number_value(), 31);
  EXPECT_EQ(leader.at("applied_index").number_value(), 30);
  EXPECT_EQ(leader.at("first_index").number_value(), 11);
  EXPECT_EQ(leader.at("last_index").number_value(), 32);
  EXPECT_EQ(leader.at("snapshot_index").number_value(), 10);

  const auto& dead = list.values(1).struct_value().fields();
  EXPECT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead.at("id").number_value(), 2);
  EXPECT_THAT(dead.at("error").string_value(),
              HasSubstr(absl::StrCat("replica 2 at 127.0.0.1:", dead_.port())));

  const auto& follower = list.values(2).struct_value().fields();
  EXPECT_EQ(follower.at("id").number_value(), 3);
  EXPECT_EQ(follower.at("role").string_value(), "follower");
}

TEST_F(ResDBAdminTest, TableHasOneRowPerReplica) {
  RunResult result = RunTool({"status", "--config=" + config_});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_THAT(result.out, StartsWith("id  protocol  role      term  leader_id  commit_index"));
  EXPECT_THAT(result.out, HasSubstr("\n1   raft      leader    4     1          31"));
  EXPECT_THAT(result.out, HasSubstr("\n2   error: replica 2 at 127.0.0.1:"));
  EXPECT_THAT(result.out, HasSubstr("\n3   raft      follower  4"));
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 4) << result.out;
}

TEST_F(ResDBAdminTest, ErrorTextIsEscapedInJson) {
  follower_.AnswerError(Response::INTERNAL, "bad \"state\"\n\tat \\ disk");
  RunResult result = RunTool({"--config", config_, "status", "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  google::protobuf::ListValue list = ParseArray(result.out);
  ASSERT_EQ(list.values_size(), 3);
  EXPECT_THAT(list.values(2).struct_value().fields().at("error").string_value(),
              HasSubstr("bad \"state\"\n\tat \\ disk"));
}

TEST(ResDBAdminPbftTest, PbftReplicasShowPbftFields) {
  std::vector<std::unique_ptr<FakeStatusReplica>> replicas;
  std::vector<int> ports;
  for (int64_t id = 1; id <= 4; ++id) {
    replicas.push_back(std::make_unique<FakeStatusReplica>(PbftStatus(id)));
    ports.push_back(replicas.back()->port());
  }
  const std::string config = WriteConfig(ports, "pbft");

  RunResult table = RunTool({"--config", config, "status"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, StartsWith("id  protocol  role     view  primary_id  executed_seq  "
                                    "stable_checkpoint  state_digest\n"));
  EXPECT_THAT(table.out, HasSubstr("\n1   pbft      primary  5     1           250           200"));
  EXPECT_THAT(table.out, Not(HasSubstr("commit_index")));

  RunResult json = RunTool({"--config", config, "status", "--json=true"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  google::protobuf::ListValue list = ParseArray(json.out);
  ASSERT_EQ(list.values_size(), 4);
  const auto& backup = list.values(3).struct_value().fields();
  EXPECT_EQ(backup.at("id").number_value(), 4);
  EXPECT_EQ(backup.at("role").string_value(), "backup");
  EXPECT_EQ(backup.at("view").number_value(), 5);
  EXPECT_EQ(backup.at("primary_id").number_value(), 1);
  EXPECT_EQ(backup.at("executed_seq").number_value(), 250);
  EXPECT_EQ(backup.at("stable_checkpoint").number_value(), 200);
  EXPECT_EQ(backup.count("term"), 0u);
}

TEST(ResDBAdminDeadClusterTest, NoAnswerExitsOneWithOneLine) {
  ClosedPort a, b, c;
  const std::string config = WriteConfig({a.port(), b.port(), c.port()}, "raft");
  RunResult result = RunTool({"--config", config, "status", "--json", "--timeout_ms=500"});
  EXPECT_EQ(result.exit_code, 1);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr("none of the 3 replicas answered"));
  google::protobuf::ListValue list = ParseArray(result.out);
  ASSERT_EQ(list.values_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(list.values(i).struct_value().fields().at("id").number_value(), i + 1);
    EXPECT_TRUE(list.values(i).struct_value().fields().count("error"));
  }
}

TEST_F(ResDBAdminTest, UsageErrorsExitTwoWithOneLine) {
  const std::string missing = TempDir() + "/no_such.config";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--config", config_}, "a command is required: one of status"},
      {{"--config", config_, "launch"}, "unknown command \"launch\": expected one of status"},
      {{"--config", config_, "status", "--verbose"}, "unknown flag --verbose"},
      {{"--config", config_, "status", "--timeout_ms=soon"}, "--timeout_ms"},
      {{"--config", config_, "status", "--timeout_ms", "0"}, "--timeout_ms"},
      {{"--config", config_, "status", "--timeout_ms"}, "--timeout_ms needs a value"},
      {{"--config", config_, "status", "--json=maybe"}, "--json"},
      {{"--config", config_, "status", "now"}, "unexpected argument \"now\""},
      {{"--config", config_, "--config", config_, "status"}, "--config given twice"},
      {{"status"}, "--config is required"},
      {{"--config", missing, "status"}, missing},
  };
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    RunResult result = RunTool(args);
    EXPECT_EQ(result.exit_code, 2);
    ExpectOneErrorLine(result);
    EXPECT_THAT(result.err, HasSubstr(message));
    EXPECT_EQ(result.out, "");
  }
  EXPECT_EQ(leader_.calls(), 0);
}

TEST(ResDBAdminHelpTest, HelpDescribesCommandsAndExitsZero) {
  RunResult result = RunTool({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_THAT(result.out, HasSubstr("status"));
  EXPECT_THAT(result.out, HasSubstr("--json"));
  EXPECT_THAT(result.out, HasSubstr("--timeout_ms"));
  EXPECT_THAT(result.out, HasSubstr("--config"));
}

TEST(ResDBAdminArgumentsTest, BadArgumentsOfRaftCommandsAndLogAreUsageErrors) {
  const std::string raft = WriteConfig({1, 2, 3}, "raft");
  const std::string pbft = WriteConfig({1, 2, 3, 4}, "pbft");
  const struct {
    std::vector<std::string> args;
    std::string expected;
  } cases[] = {
      {{"--config", raft, "transfer-leader"}, "--to is required"},
      {{"--config", raft, "transfer-leader", "--to", "x"}, "--to is required"},
      {{"--config", raft, "transfer-leader", "--to", "9"}, "no replica of the config has this id"},
      {{"--config", pbft, "transfer-leader", "--to", "2"}, "transfer-leader is a RAFT command"},
      {{"--config", raft, "status", "--to", "2"}, "--to is not a flag of status"},
      {{"--config", raft, "log"}, "--id is required"},
      {{"--config", raft, "log", "--id", "7"}, "--id is required"},
      {{"--config", raft, "log", "--id", "1", "--count", "-3"}, "--count must be"},
      {{"--config", raft, "add-replica"}, "--id is required"},
      {{"--config", raft, "add-replica", "--id", "0"}, "--id is required"},
      {{"--config", raft, "add-replica", "--id", "4", "--address", "nohost"}, "host:port"},
      {{"--config", raft, "add-replica", "--id", "4", "--learner=maybe"}, "--learner takes"},
      {{"--config", raft, "remove-replica", "--id", "4", "--learner"},
       "--learner is not a flag of remove-replica"},
      {{"--config", pbft, "add-replica", "--id", "5"}, "add-replica is a RAFT command"},
      {{"--config", pbft, "remove-replica", "--id", "2"}, "remove-replica is a RAFT command"},
  };
  for (const auto& c : cases) {
    const RunResult result = RunTool(c.args);
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(c.args, " ") << ": " << result.err;
    EXPECT_NE(result.err.find(c.expected), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

TEST(ResDBAdminTransferLeaderTest, NoLeaderIsAFailureSayingSo) {
  FakeStatusReplica a(RaftStatus(1, "follower"));
  FakeStatusReplica b(RaftStatus(2, "candidate"));
  FakeStatusReplica c(RaftStatus(3, "follower"));
  const std::string config = WriteConfig({a.port(), b.port(), c.port()}, "raft");
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"transfer-leader", "--to", "2"},
        std::vector<std::string>{"add-replica", "--id", "4", "--address", "127.0.0.1:1"},
        std::vector<std::string>{"remove-replica", "--id", "3"}}) {
    std::vector<std::string> args = {"--config", config};
    args.insert(args.end(), command.begin(), command.end());
    const RunResult result = RunTool(args);
    EXPECT_EQ(result.exit_code, 1) << command[0] << ": " << result.err;
    EXPECT_NE(result.err.find("no replica reports itself leader"), std::string::npos) << result.err;
  }
}

}  // namespace
}  // namespace resdb
