// Command-line client of the key-value service: one request per run.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gflags/gflags.h"
#include "interface/kv/kv_client.h"
#include "platform/config/resdb_config.h"

DEFINE_string(config, "", "Client config file (JSON listing the replicas). Required.");
DEFINE_string(cmd, "",
              "set | get | delete | getrange | set_with_version | get_with_version | "
              "get_history");
DEFINE_string(key, "", "Key of set, get, delete and the versioned commands.");
DEFINE_string(value, "", "Value of set and set_with_version.");
DEFINE_string(min_key, "", "Smallest key of getrange (inclusive; empty: from the first key).");
DEFINE_string(max_key, "", "Largest key of getrange (inclusive; empty: to the last key).");
// gflags reserves --version for itself; the command line's --version is read into this flag.
DEFINE_uint64(kv_version, 0,
              "Given as --version: expected version of set_with_version, version to read for "
              "get_with_version (0 = latest), first version of get_history.");
DEFINE_int32(timeout_ms, 0, "Deadline of the request in ms (0: the config's client_timeout_ms).");
DEFINE_string(consistency, "", "Read consistency: linearizable (default) or stale.");

namespace resdb {
namespace {

constexpr char kTool[] = "kv_service_tools";
constexpr int kExitRequestFailed = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] = R"(sends one request to the replicated key-value service.

Usage:
  kv_service_tools --config=CLIENT_CONFIG --cmd=COMMAND [flags]

Commands and what they print on success:
  set               --key --value           nothing
  get               --key                   the value and a newline
  delete            --key                   nothing
  getrange          [--min_key] [--max_key] one "key value" line per key in [min_key, max_key]
  set_with_version  --key --value --version the new version (--version: the expected one)
  get_with_version  --key [--version]       "version value" (--version 0 or absent: latest)
  get_history       --key [--version]       "version value" lines, oldest first, from --version

Flags:
  --config PATH       client config (JSON) listing the replicas; required
  --cmd COMMAND       one of the commands above; required
  --key, --value, --min_key, --max_key, --version N
  --timeout_ms N      deadline of the request (default: the config's client_timeout_ms)
  --consistency MODE  reads: linearizable (default) or stale
  --help              this text

Exit status: 0 success, 1 the request failed, 2 bad arguments or config.
On failure one line starting with "kv_service_tools: " goes to stderr.)";

struct Command {
  const char* name;
  bool needs_key;
  bool needs_value;
};

constexpr Command kCommands[] = {
    {"set", true, true},
    {"get", true, false},
    {"delete", true, false},
    {"getrange", false, false},
    {"set_with_version", true, true},
    {"get_with_version", true, false},
    {"get_history", true, false},
};

// Prints one line to stderr: newlines inside the message would break "one line".
int Fail(int exit_code, const std::string& message) {
  std::cerr << kTool << ": " << absl::StrReplaceAll(message, {{"\n", " "}}) << std::endl;
  return exit_code;
}

int UsageError(const std::string& message) {
  return Fail(kExitUsage, absl::StrCat(message, " (see --help)"));
}

// The names the command line may use and the flag each one sets.
std::string FlagNameFor(const std::string& name) {
  static const std::set<std::string> kFlags = {"config",  "cmd",     "key",        "value",
                                               "min_key", "max_key", "timeout_ms", "consistency"};
  if (name == "version") return "kv_version";
  return kFlags.count(name) > 0 ? name : "";
}

// Parses "--name=value", "--name value" (one or two dashes) into the flags. Done here rather
// than by gflags so that every mistake is one line and exit status 2. Returns -1 to go on,
// otherwise the exit status.
int ParseArguments(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-')
      return UsageError(absl::StrCat("unexpected argument \"", arg, "\""));
    const std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t equals = body.find('=');
    const std::string name = body.substr(0, equals);
    if (name == "help" || name == "helpfull" || name == "h") {
      std::cout << kTool << " " << kUsage << std::endl;
      return 0;
    }
    const std::string flag = FlagNameFor(name);
    if (flag.empty()) return UsageError(absl::StrCat("unknown flag --", name));
    std::string value;
    if (equals != std::string::npos) {
      value = body.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return UsageError(absl::StrCat("--", name, " needs a value"));
    }
    if (gflags::SetCommandLineOption(flag.c_str(), value.c_str()).empty()) {
      return UsageError(absl::StrCat("invalid value \"", value, "\" for --", name));
    }
  }
  return -1;
}

bool FlagGiven(const char* name) {
  gflags::CommandLineFlagInfo info;
  return gflags::GetCommandLineFlagInfo(name, &info) && !info.is_default;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& command : kCommands) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

int RequestFailed(const std::string& what, const absl::Status& status) {
  return Fail(kExitRequestFailed, absl::StrCat(what, ": ", absl::StatusCodeToString(status.code()),
                                               ": ", status.message()));
}

int RunCommand(const std::string& cmd, KVClient& client) {
  const std::string what = absl::StrCat(cmd, FLAGS_key.empty() ? "" : " \"" + FLAGS_key + "\"");
  if (cmd == "set") {
    absl::Status status = client.Set(FLAGS_key, FLAGS_value);
    return status.ok() ? 0 : RequestFailed(what, status);
  }
  if (cmd == "get") {
    absl::StatusOr<std::string> value = client.Get(FLAGS_key);
    if (!value.ok()) return RequestFailed(what, value.status());
    std::cout << *value << "\n";
    return 0;
  }
  if (cmd == "delete") {
    absl::Status status = client.Delete(FLAGS_key);
    return status.ok() ? 0 : RequestFailed(what, status);
  }
  if (cmd == "getrange") {
    auto items = client.GetRange(FLAGS_min_key, FLAGS_max_key);
    if (!items.ok()) return RequestFailed(cmd, items.status());
    for (const auto& [key, value] : *items) std::cout << key << " " << value << "\n";
    return 0;
  }
  if (cmd == "set_with_version") {
    absl::StatusOr<uint64_t> version =
        client.SetWithVersion(FLAGS_key, FLAGS_value, FLAGS_kv_version);
    if (!version.ok()) return RequestFailed(what, version.status());
    std::cout << *version << "\n";
    return 0;
  }
  if (cmd == "get_with_version") {
    auto value = client.GetWithVersion(FLAGS_key, FLAGS_kv_version);
    if (!value.ok()) return RequestFailed(what, value.status());
    std::cout << value->version << " " << value->value << "\n";
    return 0;
  }
  auto history = client.GetHistory(FLAGS_key, FLAGS_kv_version);
  if (!history.ok()) return RequestFailed(what, history.status());
  for (const auto& entry : *history) std::cout << entry.version << " " << entry.value << "\n";
  return 0;
}

int Main(int argc, char** argv) {
  gflags::SetUsageMessage(kUsage);
  if (int exit_code = ParseArguments(argc, argv); exit_code >= 0) return exit_code;

  std::vector<std::string> names;
  for (const Command& command : kCommands) names.push_back(command.name);
  const std::string choices = absl::StrJoin(names, ", ");
  if (FLAGS_cmd.empty()) return UsageError(absl::StrCat("--cmd is required: one of ", choices));
  const Command* command = FindCommand(FLAGS_cmd);
  if (command == nullptr) {
    return UsageError(absl::StrCat("unknown --cmd \"", FLAGS_cmd, "\": expected one of ", choices));
  }
  if (command->needs_key && FLAGS_key.empty()) {
    return UsageError(absl::StrCat("--key is required for --cmd=", FLAGS_cmd));
  }
  if (command->needs_value && !FlagGiven("value")) {
    return UsageError(absl::StrCat("--value is required for --cmd=", FLAGS_cmd));
  }
  if (!FLAGS_consistency.empty() && FLAGS_consistency != "linearizable" &&
      FLAGS_consistency != "stale") {
    return UsageError(absl::StrCat("--consistency must be linearizable or stale, not \"",
                                   FLAGS_consistency, "\""));
  }
  if (FLAGS_timeout_ms < 0) return UsageError("--timeout_ms must not be negative");
  if (FLAGS_config.empty()) return UsageError("--config is required: the client config file");

  absl::StatusOr<ResDBConfig> config = ResDBConfig::LoadFromFile(FLAGS_config, 0);
  if (!config.ok()) return Fail(kExitUsage, std::string(config.status().message()));

  KVClient client(*config);
  if (FLAGS_timeout_ms > 0) client.SetTimeoutMs(FLAGS_timeout_ms);
  if (!FLAGS_consistency.empty()) client.SetConsistency(FLAGS_consistency);
  const int exit_code = RunCommand(FLAGS_cmd, client);
  if (exit_code == 0 && FLAGS_consistency == "stale" && FLAGS_cmd != "set" &&
      FLAGS_cmd != "delete" && FLAGS_cmd != "set_with_version") {
    // The value on stdout stays parseable; the reminder that it may lag goes to stderr.
    std::cerr << kTool << ": stale read: served from one replica's local state, which may "
              << "miss the latest writes" << std::endl;
  }
  return exit_code;
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  // gRPC logs connection trouble to stderr; the tool reports failures itself in one line.
  // GRPC_VERBOSITY set by the user still wins.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  return resdb::Main(argc, argv);
}
