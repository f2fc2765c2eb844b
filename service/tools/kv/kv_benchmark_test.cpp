// Runs the kv_benchmark binary against a fake replica and checks its results and exit status.

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "service/kv/proto/kv.pb.h"
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
  return testing_util::RunBinary(testing_util::RunfilePath("service/tools/kv/kv_benchmark"), args);
}

std::string WriteConfig(const std::vector<int>& ports) {
  return testing_util::WriteClientConfig(ports, "bench.config");
}

google::protobuf::Struct ParseObject(const std::string& json) {
  google::protobuf::Struct object;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &object);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << json;
  return object;
}

void ExpectOneErrorLine(const RunResult& result) {
  EXPECT_THAT(result.err, StartsWith("kv_benchmark: "));
  ASSERT_FALSE(result.err.empty());
  EXPECT_EQ(result.err.back(), '\n') << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

class KVBenchmarkTest : public ::testing::Test {
 protected:
  KVBenchmarkTest() : config_(WriteConfig({replica_.port(), down_a_.port(), down_b_.port()})) {}

  FakeReplica replica_{1};
  ClosedPort down_a_;
  ClosedPort down_b_;
  std::string config_;
};

TEST_F(KVBenchmarkTest, FixedOpsRunWritesJsonResults) {
  const std::string json_path = TempDir() + "/bench.json";
  RunResult result =
      RunTool({"--config", config_, "--ops", "200", "--clients", "4", "--warmup_s", "0",
               "--value_size", "64", "--write_ratio", "0.5", "--json_out", json_path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_THAT(result.out, HasSubstr("ops         200"));
  EXPECT_THAT(result.out, HasSubstr("throughput"));
  EXPECT_THAT(result.out, HasSubstr("latency ms  p50 "));
  EXPECT_THAT(result.out, HasSubstr("us/op"));

  google::protobuf::Struct json = ParseObject(ReadFile(json_path));
  const auto& fields = json.fields();
  EXPECT_EQ(fields.at("clients").number_value(), 4);
  EXPECT_EQ(fields.at("value_size").number_value(), 64);
  EXPECT_EQ(fields.at("write_ratio").number_value(), 0.5);
  EXPECT_EQ(fields.at("ops").number_value(), 200);
  EXPECT_EQ(fields.at("errors").number_value(), 0);
  EXPECT_EQ(fields.at("reads").number_value() + fields.at("writes").number_value(), 200);
  EXPECT_GT(fields.at("reads").number_value(), 0);
  EXPECT_GT(fields.at("throughput_ops_s").number_value(), 0);
  const auto& latency = fields.at("latency_ms").struct_value().fields();
  const double p50 = latency.at("p50").number_value();
  const double p99 = latency.at("p99").number_value();
  const double p999 = latency.at("p999").number_value();
  const double max = latency.at("max").number_value();
  EXPECT_GT(p50, 0);
  EXPECT_LE(p50, p99);
  EXPECT_LE(p99, p999);
  EXPECT_LE(p999, max);
  EXPECT_GT(fields.at("client_cpu_us_per_op").number_value(), 0);

  // The measured requests reached the replica; reads were linearizable GETs.
  std::vector<Request> received = replica_.ReceivedRequests();
  EXPECT_GE(received.size(), 200u);
  int gets = 0;
  for (const Request& request : received) {
    KVRequest kv;
    ASSERT_TRUE(kv.ParseFromString(request.data()));
    if (kv.cmd() == KVRequest::GET) {
      ++gets;
      EXPECT_EQ(request.consistency(), "linearizable");
    } else {
      EXPECT_EQ(kv.cmd(), KVRequest::SET);
      EXPECT_EQ(kv.value().size(), 64u);
    }
  }
  EXPECT_EQ(gets, fields.at("reads").number_value());
}

TEST_F(KVBenchmarkTest, ReadOnlyRunReadsPreloadedKeys) {
  const std::string json_path = TempDir() + "/reads.json";
  RunResult result =
      RunTool({"--config=" + config_, "--ops=50", "--clients=2", "--warmup_s=0", "--write_ratio=0",
               "--preload_keys=20", "--key_space=20", "--json_out=" + json_path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const google::protobuf::Struct json = ParseObject(ReadFile(json_path));
  const auto& fields = json.fields();
  EXPECT_EQ(fields.at("ops").number_value(), 50);
  EXPECT_EQ(fields.at("reads").number_value(), 50);
  EXPECT_EQ(fields.at("errors").number_value(), 0);
}

TEST_F(KVBenchmarkTest, DurationRunWithWarmup) {
  RunResult result =
      RunTool({"--config", config_, "--duration_s", "0.5", "--warmup_s", "0.2", "--clients", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("measured 0."));
  EXPECT_THAT(result.out, HasSubstr("errors      0\n"));
}

TEST(KVBenchmarkDeadClusterTest, UnreachableClusterExitsOneWithOneLine) {
  ClosedPort a, b, c;
  const std::string config = WriteConfig({a.port(), b.port(), c.port()});
  RunResult result = RunTool({"--config", config, "--ops", "4", "--clients", "2", "--warmup_s", "0",
                              "--timeout_ms", "300"});
  EXPECT_EQ(result.exit_code, 1);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr("all 4 requests failed"));
  EXPECT_THAT(result.err, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(result.out, "");
}

TEST_F(KVBenchmarkTest, BadFlagsExitTwoWithOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {"--ops=10"},  // no config
      {"--config", config_, "--clients=0"},
      {"--config", config_, "--clients=many"},
      {"--config", config_, "--write_ratio=1.5"},
      {"--config", config_, "--write_ratio=0"},  // nothing to read
      {"--config", config_, "--ops=-1"},
      {"--config", config_, "--ops=0"},
      {"--config", config_, "--duration_s=0"},
      {"--config", config_, "--key_space=0"},
      {"--config", config_, "--preload_keys=5", "--key_space=4"},
      {"--config", config_, "--warmup_s=-1"},
      {"--config", config_, "--value_size=-3"},
      {"--config", config_, "--value_size=100000000"},  // larger than a message
      {"--config", config_, "--frobnicate=1"},
      {"--config", config_, "stray"},
      {"--config", config_, "--timeout_ms"},
      {"--config", TempDir() + "/missing.config"},
  };
  for (const std::vector<std::string>& args : cases) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    RunResult result = RunTool(args);
    EXPECT_EQ(result.exit_code, 2);
    ExpectOneErrorLine(result);
    EXPECT_EQ(result.out, "");
  }
  EXPECT_TRUE(replica_.ReceivedRequests().empty());
}

TEST(KVBenchmarkHelpTest, HelpExitsZero) {
  RunResult result = RunTool({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.err, "");
  for (const char* flag : {"--clients", "--value_size", "--duration_s", "--ops", "--write_ratio",
                           "--key_space", "--warmup_s", "--json_out", "--timeout_ms"}) {
    EXPECT_THAT(result.out, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace resdb
