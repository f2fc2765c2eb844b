// Runs the kv_service_tools binary as a user would and checks its output and exit status.

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/tools/testing/fake_replica.h"
#include "service/tools/testing/tool_runner.h"

namespace resdb {
namespace {

using testing::HasSubstr;
using testing::StartsWith;

using testing_util::ReadFile;
using testing_util::RunResult;
using testing_util::TempDir;

RunResult RunTool(const std::vector<std::string>& args) {
  return testing_util::RunBinary(testing_util::RunfilePath("service/tools/kv/kv_service_tools"),
                                 args);
}

std::string WriteConfig(const std::vector<int>& ports) {
  return testing_util::WriteClientConfig(ports, "client.config");
}

// The tool's failure contract: exactly one line on stderr, prefixed with the tool's name.
void ExpectOneErrorLine(const RunResult& result) {
  EXPECT_THAT(result.err, StartsWith("kv_service_tools: "));
  ASSERT_FALSE(result.err.empty());
  EXPECT_EQ(result.err.back(), '\n') << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

class KVServiceToolsTest : public ::testing::Test {
 protected:
  KVServiceToolsTest() : config_(WriteConfig({replica_.port(), down_a_.port(), down_b_.port()})) {}

  FakeReplica replica_{1};
  ClosedPort down_a_;
  ClosedPort down_b_;
  std::string config_;
};

TEST_F(KVServiceToolsTest, MissingConfigFileIsAUsageErrorNamingThePath) {
  const std::string missing = TempDir() + "/no_such.config";
  RunResult result = RunTool({"--config=" + missing, "--cmd=get", "--key=k"});
  EXPECT_EQ(result.exit_code, 2);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr(missing));
  EXPECT_EQ(result.out, "");
}

TEST_F(KVServiceToolsTest, MissingCmdIsAUsageError) {
  RunResult result = RunTool({"--config", config_, "--key=k"});
  EXPECT_EQ(result.exit_code, 2);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr("--cmd is required"));
  EXPECT_TRUE(replica_.ReceivedRequests().empty());
}

TEST_F(KVServiceToolsTest, BadArgumentsAreUsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"--config", config_, "--cmd=fly", "--key=k"},         // unknown command
      {"--config", config_, "--cmd=get"},                    // no key
      {"--config", config_, "--cmd=set", "--key=k"},         // no value
      {"--config", config_, "--cmd=get", "--key=k", "--x"},  // unknown flag
      {"--config", config_, "--cmd=get", "--key=k", "--timeout_ms=soon"},
      {"--config", config_, "--cmd=get", "--key=k", "--consistency=eventual"},
      {"--cmd=get", "--key=k"},  // no config
  };
  for (const std::vector<std::string>& args : cases) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    RunResult result = RunTool(args);
    EXPECT_EQ(result.exit_code, 2);
    ExpectOneErrorLine(result);
  }
  EXPECT_TRUE(replica_.ReceivedRequests().empty());
}

TEST_F(KVServiceToolsTest, HelpDescribesTheCommandsAndExitsZero) {
  RunResult result = RunTool({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("--cmd"));
  EXPECT_THAT(result.out, HasSubstr("set_with_version"));
  EXPECT_THAT(result.out, HasSubstr("--version"));
  EXPECT_EQ(result.err, "");
}

TEST_F(KVServiceToolsTest, SetGetDeleteAndGetRange) {
  RunResult set = RunTool({"--config", config_, "--cmd", "set", "--key", "k1", "--value", "v 1"});
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "");
  EXPECT_EQ(set.err, "");
  ASSERT_EQ(RunTool({"--config", config_, "--cmd=set", "--key=k2", "--value=v2"}).exit_code, 0);

  RunResult get = RunTool({"--config", config_, "--cmd=get", "--key=k1"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "v 1\n");
  EXPECT_EQ(get.err, "");

  RunResult range =
      RunTool({"--config", config_, "--cmd=getrange", "--min_key=k1", "--max_key=k2"});
  EXPECT_EQ(range.exit_code, 0) << range.err;
  EXPECT_EQ(range.out, "k1 v 1\nk2 v2\n");

  ASSERT_EQ(RunTool({"--config", config_, "--cmd=delete", "--key=k1"}).exit_code, 0);
  RunResult gone = RunTool({"--config", config_, "--cmd=get", "--key=k1"});
  EXPECT_EQ(gone.exit_code, 1);
  ExpectOneErrorLine(gone);
  EXPECT_THAT(gone.err, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(gone.out, "");
}

TEST_F(KVServiceToolsTest, VersionedCommands) {
  RunResult first = RunTool(
      {"--config", config_, "--cmd=set_with_version", "--key=doc", "--value=a", "--version=0"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "1\n");
  RunResult second = RunTool(
      {"--config", config_, "--cmd=set_with_version", "--key=doc", "--value=b", "--version", "1"});
  EXPECT_EQ(second.out, "2\n");

  RunResult stale = RunTool(
      {"--config", config_, "--cmd=set_with_version", "--key=doc", "--value=c", "--version=1"});
  EXPECT_EQ(stale.exit_code, 1);
  ExpectOneErrorLine(stale);
  EXPECT_THAT(stale.err, HasSubstr("FAILED_PRECONDITION"));

  RunResult latest = RunTool({"--config", config_, "--cmd=get_with_version", "--key=doc"});
  EXPECT_EQ(latest.out, "2 b\n");
  RunResult old =
      RunTool({"--config", config_, "--cmd=get_with_version", "--key=doc", "--version=1"});
  EXPECT_EQ(old.out, "1 a\n");
  RunResult history = RunTool({"--config", config_, "--cmd=get_history", "--key=doc"});
  EXPECT_EQ(history.exit_code, 0) << history.err;
  EXPECT_EQ(history.out, "1 a\n2 b\n");
}

TEST_F(KVServiceToolsTest, UnreachableClusterFailsWithOneLine) {
  ClosedPort a, b, c;
  const std::string config = WriteConfig({a.port(), b.port(), c.port()});
  RunResult result = RunTool({"--config", config, "--cmd=get", "--key=k", "--timeout_ms=300"});
  EXPECT_EQ(result.exit_code, 1);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(result.err, HasSubstr("127.0.0.1:"));
}

TEST_F(KVServiceToolsTest, StaleConsistencyIsSentWithTheRead) {
  ASSERT_EQ(RunTool({"--config", config_, "--cmd=set", "--key=k", "--value=v"}).exit_code, 0);
  RunResult get = RunTool({"--config", config_, "--cmd=get", "--key=k", "--consistency=stale"});
  EXPECT_EQ(get.out, "v\n");
  EXPECT_THAT(get.err, HasSubstr("stale read"));
  std::vector<Request> received = replica_.ReceivedRequests();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[1].consistency(), "stale");
}

}  // namespace
}  // namespace resdb
