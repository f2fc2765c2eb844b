#include "service/tools/testing/tool_runner.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace resdb {
namespace testing_util {
namespace {

std::string ShellQuote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string RunfilePath(const std::string& workspace_path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/",
                      workspace != nullptr ? workspace : "resilientdb", "/", workspace_path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

RunResult RunBinary(const std::string& binary, const std::vector<std::string>& args) {
  const std::string out_path = TempDir() + "/tool_runner.out";
  const std::string err_path = TempDir() + "/tool_runner.err";
  std::vector<std::string> words = {ShellQuote(binary)};
  for (const std::string& arg : args) words.push_back(ShellQuote(arg));
  const std::string command = absl::StrCat(absl::StrJoin(words, " "), " >", ShellQuote(out_path),
                                           " 2>", ShellQuote(err_path));
  const int status = std::system(command.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

std::string WriteClientConfig(const std::vector<int>& ports, const std::string& file_name) {
  std::vector<std::string> replicas;
  for (size_t i = 0; i < ports.size(); ++i) {
    replicas.push_back(
        absl::StrCat("{\"id\": ", i + 1, ", \"ip\": \"127.0.0.1\", \"port\": ", ports[i], "}"));
  }
  const std::string path = TempDir() + "/" + file_name;
  std::ofstream(path) << "{\"region\": [{\"replica_info\": [" << absl::StrJoin(replicas, ", ")
                      << "]}], \"consensus_protocol\": \"raft\", \"allow_plaintext\": true}\n";
  return path;
}

}  // namespace testing_util
}  // namespace resdb
