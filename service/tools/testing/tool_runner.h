#ifndef SERVICE_TOOLS_TESTING_TOOL_RUNNER_H_
#define SERVICE_TOOLS_TESTING_TOOL_RUNNER_H_

#include <string>
#include <vector>

namespace resdb {
namespace testing_util {

// What a command-line tool did when a test ran it.
struct RunResult {
  int exit_code = -1;  // -1 if it did not exit normally
  std::string out;
  std::string err;
};

// The test's private temporary directory (TEST_TMPDIR), or /tmp outside Bazel.
std::string TempDir();

// The path of `workspace_path` (e.g. "service/tools/kv/kv_service_tools") in the test's
// runfiles; the target must be in the test's `data`.
std::string RunfilePath(const std::string& workspace_path);

// The whole content of a file; "" if it cannot be read.
std::string ReadFile(const std::string& path);

// Runs `binary` with `args` (no shell interpretation of the arguments) and collects its exit
// status, stdout and stderr.
RunResult RunBinary(const std::string& binary, const std::vector<std::string>& args);

// Writes a client config listing RAFT replicas 1..n on 127.0.0.1 at `ports` to
// TempDir()/`file_name` and returns its path.
std::string WriteClientConfig(const std::vector<int>& ports, const std::string& file_name);

}  // namespace testing_util
}  // namespace resdb

#endif  // SERVICE_TOOLS_TESTING_TOOL_RUNNER_H_
