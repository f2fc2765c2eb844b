// Command-line administration of a deployment: asks replicas about their state.

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "platform/config/resdb_config.h"
#include "service/tools/admin/admin_client.h"
#include "service/tools/admin/status_format.h"

namespace resdb {
namespace {

constexpr char kTool[] = "resdb_admin";
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] = R"(administers a deployment of replicas.

Usage:
  resdb_admin --config CLIENT_CONFIG COMMAND [flags]

Commands:
  status   asks every replica of the config for its state, all at once, and prints one row
           per replica: id, protocol, role, then for RAFT term, leader_id, commit_index,
           applied_index, first_index, last_index, snapshot_index, membership (voter,
           learner, removed or joining), voters, learners, for PBFT view, primary_id,
           executed_seq, stable_checkpoint, and for both state_digest (its first 8 bytes in
           hex; equal on replicas that executed the same batches). A replica that does not
           answer shows "error: ..." instead.
           --json          print exactly one JSON array instead: one object per replica, in
                           config order, with the fields above as keys (numbers as JSON
                           numbers), or {"id": N, "error": "..."} for a replica that did not
                           answer
           --timeout_ms N  how long to wait for each replica (default: the config's
                           client_timeout_ms)
           Exit status: 0 if at least one replica answered, 1 if none did.
  log --id N [--from F] [--count C]
           asks replica N for its ordered history (RAFT: its log; PBFT: its ledger of
           committed batches): prints its commit index, the range it still holds, its
           snapshot (RAFT), then one row per entry from F on (default: the first held), at
           most C rows (default 20, at most 1000): index, term, kind (normal, noop,
           config), client requests in the entry, data bytes.
           --json          print the answer as one JSON object instead
           --timeout_ms N  how long to wait (default: the config's client_timeout_ms)
           Exit status: 0 if the replica answered, 1 if not.
  transfer-leader --to N
           RAFT: asks the leader to hand leadership to replica N (another voter of the
           config) and waits until N leads, printing the old and new leader and how long it
           took. The leader first brings N's log up to date; if N does not win within an
           election timeout, leadership stays where it was and the command fails.
           --timeout_ms N  how long to wait in all (default: the config's
                           client_timeout_ms)
           Exit status: 0 once N leads, 1 if it does not (the line says why).
  add-replica --id N [--address HOST:PORT] [--learner]
           RAFT: asks the leader to add replica N, which must already run with
           kv_service --join (scripts/deploy/add_local_replica.sh starts one and runs this).
           N first joins as a learner, which receives the log (or a snapshot) but does not
           vote; once its log is within one append of the leader's it is promoted to voter.
           With --learner it stays a learner; running add-replica again without --learner
           promotes it. One change at a time; prints the membership once the change is
           committed. --address is where N serves, needed unless the config lists N.
           --timeout_ms N  how long to wait in all (default 60000)
           Exit status: 0 once committed (or if N already is what was asked), 1 if not.
  remove-replica --id N
           RAFT: asks the leader to remove replica N (voter or learner) and waits until the
           change is committed. A leader removing itself hands leadership to the most
           up-to-date remaining voter once the change is committed. The removed replica
           stops serving clients ("not a member"); stop its process afterwards.
           --timeout_ms N  how long to wait in all (default 60000)
           Exit status: 0 once committed, 1 if not.

Flags:
  --config PATH   client config (JSON) listing the replicas; required
  --help          this text

Flags may come before or after the command, as --name=value or --name value.
Exit status 2: bad arguments or config. Failures print one line starting with "resdb_admin: "
on stderr.)";

// Every flag the tool knows and whether it takes a value (--json is a switch).
const std::map<std::string, bool>& KnownFlags() {
  static const auto* flags = new std::map<std::string, bool>{
      {"config", true}, {"json", false}, {"timeout_ms", true}, {"to", true},      {"id", true},
      {"from", true},   {"count", true}, {"address", true},    {"learner", false}};
  return *flags;
}

struct Arguments {
  std::string command;
  std::map<std::string, std::string> flags;
  // Arguments after the command that are not flags.
  std::vector<std::string> operands;
};

// What a command needs: its name, the flags it accepts besides --config, and how it runs.
struct Command {
  const char* name;
  std::set<std::string> flags;
  int (*run)(const ResDBConfig& config, const Arguments& args);
};

// Prints one line to stderr: newlines inside the message would break "one line".
int Fail(int exit_code, const std::string& message) {
  std::cerr << kTool << ": " << absl::StrReplaceAll(message, {{"\r", " "}, {"\n", " "}})
            << std::endl;
  return exit_code;
}

int UsageError(const std::string& message) {
  return Fail(kExitUsage, absl::StrCat(message, " (see --help)"));
}

int RunStatus(const ResDBConfig& config, const Arguments& args);
int RunTransferLeader(const ResDBConfig& config, const Arguments& args);
int RunLog(const ResDBConfig& config, const Arguments& args);
int RunAddReplica(const ResDBConfig& config, const Arguments& args);
int RunRemoveReplica(const ResDBConfig& config, const Arguments& args);

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"status", {"json", "timeout_ms"}, &RunStatus},
      {"log", {"id", "from", "count", "json", "timeout_ms"}, &RunLog},
      {"transfer-leader", {"to", "timeout_ms"}, &RunTransferLeader},
      {"add-replica", {"id", "address", "learner", "timeout_ms"}, &RunAddReplica},
      {"remove-replica", {"id", "timeout_ms"}, &RunRemoveReplica},
  };
  return *commands;
}

std::string CommandNames() {
  std::vector<std::string> names;
  for (const Command& command : Commands()) names.push_back(command.name);
  return absl::StrJoin(names, ", ");
}

// Parses the command line into `args`. Returns -1 to go on, otherwise the exit status (0
// after --help).
int ParseArguments(int argc, char** argv, Arguments* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      if (args->command.empty()) {
        args->command = arg;
      } else {
        args->operands.push_back(arg);
      }
      continue;
    }
    const std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t equals = body.find('=');
    const std::string name = body.substr(0, equals);
    if (name == "help" || name == "h") {
      std::cout << kTool << " " << kUsage << std::endl;
      return 0;
    }
    auto known = KnownFlags().find(name);
    if (known == KnownFlags().end()) return UsageError(absl::StrCat("unknown flag --", name));
    if (args->flags.count(name) > 0) return UsageError(absl::StrCat("--", name, " given twice"));
    std::string value;
    if (equals != std::string::npos) {
      value = body.substr(equals + 1);
    } else if (!known->second) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return UsageError(absl::StrCat("--", name, " needs a value"));
    }
    args->flags[name] = value;
  }
  return -1;
}

// Reads a switch: absent -> false; "true"/"false" (and 1/0, yes/no) otherwise.
absl::StatusOr<bool> SwitchValue(const Arguments& args, const std::string& name) {
  auto it = args.flags.find(name);
  if (it == args.flags.end()) return false;
  bool value = false;
  if (!absl::SimpleAtob(it->second, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " takes no value or true/false, not \"", it->second, "\""));
  }
  return value;
}

// --timeout_ms, else `fallback_ms`, else the config's client timeout, else 5 s.
absl::StatusOr<int> TimeoutMs(const ResDBConfig& config, const Arguments& args,
                              int fallback_ms = 0) {
  int timeout_ms = fallback_ms > 0 ? fallback_ms : config.GetClientTimeoutMs();
  if (auto it = args.flags.find("timeout_ms"); it != args.flags.end()) {
    if (!absl::SimpleAtoi(it->second, &timeout_ms) || timeout_ms <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--timeout_ms must be a positive number of milliseconds, not \"", it->second, "\""));
    }
  }
  return timeout_ms > 0 ? timeout_ms : 5000;
}

int RunStatus(const ResDBConfig& config, const Arguments& args) {
  absl::StatusOr<bool> json = SwitchValue(args, "json");
  if (!json.ok()) return UsageError(std::string(json.status().message()));
  absl::StatusOr<int> timeout = TimeoutMs(config, args);
  if (!timeout.ok()) return UsageError(std::string(timeout.status().message()));
  const int timeout_ms = *timeout;

  const std::vector<ReplicaStatusResult> results =
      GetClusterStatus(config, std::chrono::milliseconds(timeout_ms));
  int answered = 0;
  for (const ReplicaStatusResult& result : results) answered += result.second.ok() ? 1 : 0;
  std::cout << (*json ? StatusJson(results) : StatusTable(results, config.GetConsensusProtocol()))
            << std::flush;
  if (answered == 0) {
    return Fail(kExitFailed,
                absl::StrCat("status: none of the ", results.size(), " replicas answered"));
  }
  return 0;
}

// The replica that reports itself leader in the highest term, or nullptr.
const ReplicaStatusResult* FindLeader(const std::vector<ReplicaStatusResult>& results) {
  const ReplicaStatusResult* leader = nullptr;
  for (const ReplicaStatusResult& result : results) {
    if (!result.second.ok() || result.second->role() != "leader") continue;
    if (leader == nullptr || result.second->term() > leader->second->term()) leader = &result;
  }
  return leader;
}

// The time left until a deadline, at least 1 ms.
class Deadline {
 public:
  explicit Deadline(int timeout_ms)
      : start_(std::chrono::steady_clock::now()),
        end_(start_ + std::chrono::milliseconds(timeout_ms)) {}
  std::chrono::milliseconds Left() const {
    return std::max<std::chrono::milliseconds>(
        std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(
                                          end_ - std::chrono::steady_clock::now()));
  }
  int64_t ElapsedMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point end_;
};

int RequireRaft(const ResDBConfig& config, const std::string& command) {
  if (config.GetConsensusProtocol() == kProtocolRaft) return -1;
  return UsageError(absl::StrCat(command, " is a RAFT command; this config runs ",
                                 config.GetConsensusProtocol()));
}

// The leader's reply to an admin request.
struct LeaderAnswer {
  int64_t leader = 0;
  Response response;
};

// Sends `admin` to the replica that `statuses` (a status round) show leading. A replica that
// answers NO_LEADER naming another leader of the config is asked once more, there: leadership
// may have moved since the status round. The error names what failed.
absl::StatusOr<LeaderAnswer> AskLeader(const ResDBConfig& config,
                                       const std::vector<ReplicaStatusResult>& statuses,
                                       const AdminRequest& admin, const std::string& what,
                                       const Deadline& deadline) {
  const ReplicaStatusResult* leader = FindLeader(statuses);
  if (leader == nullptr) {
    return absl::UnavailableError(
        absl::StrCat(what, ": no replica reports itself leader; try again"));
  }
  Request request;
  request.set_type(Request::TYPE_ADMIN);
  admin.SerializeToString(request.mutable_data());
  ReplicaInfo target = leader->first;
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<Response> response = CallReplica(target, request, what, config, deadline.Left());
    if (!response.ok()) return response.status();
    const int64_t hint = response->leader_id();
    if (attempt == 0 && response->status() == Response::NO_LEADER && hint != target.id()) {
      for (const ReplicaInfo& replica : config.GetReplicaInfos()) {
        if (replica.id() == hint) target = replica;
      }
      if (target.id() == hint) continue;
    }
    if (response->status() != Response::OK) {
      return ResponseError(DescribeReplica(target), what, *response);
    }
    return LeaderAnswer{target.id(), *std::move(response)};
  }
  return absl::UnavailableError(absl::StrCat(what, ": leadership keeps moving; try again"));
}

int RunTransferLeader(const ResDBConfig& config, const Arguments& args) {
  if (int exit_code = RequireRaft(config, "transfer-leader"); exit_code >= 0) return exit_code;
  int64_t to = 0;
  auto to_flag = args.flags.find("to");
  if (to_flag == args.flags.end() || !absl::SimpleAtoi(to_flag->second, &to) || to <= 0) {
    return UsageError("--to is required: the id of the replica to lead");
  }
  bool known = false;
  for (const ReplicaInfo& replica : config.GetReplicaInfos()) known |= replica.id() == to;
  if (!known)
    return UsageError(absl::StrCat("--to ", to, ": no replica of the config has this id"));
  absl::StatusOr<int> timeout = TimeoutMs(config, args);
  if (!timeout.ok()) return UsageError(std::string(timeout.status().message()));
  const Deadline deadline(*timeout);

  const std::vector<ReplicaStatusResult> results = GetClusterStatus(config, deadline.Left());
  const ReplicaStatusResult* leader = FindLeader(results);
  if (leader != nullptr && leader->first.id() == to) {
    std::cout << "replica " << to << " already leads (term " << leader->second->term() << ")"
              << std::endl;
    return 0;
  }
  AdminRequest admin;
  admin.mutable_transfer_leader()->set_to(to);
  absl::StatusOr<LeaderAnswer> answer =
      AskLeader(config, results, admin, "transfer request", deadline);
  if (!answer.ok()) return Fail(kExitFailed, std::string(answer.status().message()));
  std::cout << "leadership moved from replica " << answer->leader << " to replica " << to << " in "
            << deadline.ElapsedMs() << " ms (" << answer->response.error() << ")" << std::endl;
  return 0;
}

// --id as a positive replica id.
absl::StatusOr<int64_t> ReplicaIdFlag(const Arguments& args) {
  int64_t id = 0;
  auto it = args.flags.find("id");
  if (it == args.flags.end() || !absl::SimpleAtoi(it->second, &id) || id <= 0) {
    return absl::InvalidArgumentError("--id is required: a positive replica id");
  }
  return id;
}

// Sends a membership change to the leader and prints what it answered.
int RunMembershipChange(const ResDBConfig& config, const Arguments& args, AdminRequest admin,
                        const std::string& what) {
  absl::StatusOr<int> timeout = TimeoutMs(config, args, /*fallback_ms=*/60000);
  if (!timeout.ok()) return UsageError(std::string(timeout.status().message()));
  admin.set_timeout_ms(*timeout);
  const Deadline deadline(*timeout);
  absl::StatusOr<LeaderAnswer> answer =
      AskLeader(config, GetClusterStatus(config, deadline.Left()), admin, what, deadline);
  if (!answer.ok()) return Fail(kExitFailed, std::string(answer.status().message()));
  std::cout << "leader " << answer->leader << ": " << answer->response.error() << " ("
            << deadline.ElapsedMs() << " ms)" << std::endl;
  return 0;
}

int RunAddReplica(const ResDBConfig& config, const Arguments& args) {
  if (int exit_code = RequireRaft(config, "add-replica"); exit_code >= 0) return exit_code;
  absl::StatusOr<int64_t> id = ReplicaIdFlag(args);
  if (!id.ok()) return UsageError(std::string(id.status().message()));
  absl::StatusOr<bool> learner = SwitchValue(args, "learner");
  if (!learner.ok()) return UsageError(std::string(learner.status().message()));
  AdminRequest admin;
  AddReplica* add = admin.mutable_add_replica();
  add->set_id(*id);
  if (auto address = args.flags.find("address"); address != args.flags.end()) {
    if (address->second.find(':') == std::string::npos) {
      return UsageError(absl::StrCat("--address must be host:port, not \"", address->second, "\""));
    }
    add->set_address(address->second);
  }
  add->set_learner(*learner);
  return RunMembershipChange(config, args, std::move(admin), "add-replica request");
}

int RunRemoveReplica(const ResDBConfig& config, const Arguments& args) {
  if (int exit_code = RequireRaft(config, "remove-replica"); exit_code >= 0) return exit_code;
  absl::StatusOr<int64_t> id = ReplicaIdFlag(args);
  if (!id.ok()) return UsageError(std::string(id.status().message()));
  AdminRequest admin;
  admin.mutable_remove_replica()->set_id(*id);
  return RunMembershipChange(config, args, std::move(admin), "remove-replica request");
}

// A non-negative integer flag; `fallback` when absent.
absl::StatusOr<uint64_t> CountFlag(const Arguments& args, const std::string& name,
                                   uint64_t fallback) {
  auto it = args.flags.find(name);
  if (it == args.flags.end()) return fallback;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a non-negative number, not \"", it->second, "\""));
  }
  return value;
}

int RunLog(const ResDBConfig& config, const Arguments& args) {
  absl::StatusOr<bool> json = SwitchValue(args, "json");
  if (!json.ok()) return UsageError(std::string(json.status().message()));
  absl::StatusOr<int> timeout = TimeoutMs(config, args);
  if (!timeout.ok()) return UsageError(std::string(timeout.status().message()));
  absl::StatusOr<uint64_t> id = CountFlag(args, "id", 0);
  absl::StatusOr<uint64_t> from = CountFlag(args, "from", 0);
  absl::StatusOr<uint64_t> count = CountFlag(args, "count", 0);
  for (const auto* flag : {&id, &from, &count}) {
    if (!flag->ok()) return UsageError(std::string(flag->status().message()));
  }
  const ReplicaInfo* replica = nullptr;
  for (const ReplicaInfo& candidate : config.GetReplicaInfos()) {
    if (*id != 0 && candidate.id() == static_cast<int64_t>(*id)) replica = &candidate;
  }
  if (replica == nullptr) {
    return UsageError("--id is required: the id of a replica of the config");
  }
  LogQuery query;
  query.set_first(*from);
  query.set_max_records(static_cast<uint32_t>(std::min<uint64_t>(*count, UINT32_MAX)));
  Request request;
  request.set_type(Request::TYPE_CUSTOM_QUERY);
  query.SerializeToString(request.mutable_data());
  absl::StatusOr<Response> response =
      CallReplica(*replica, request, "log query", config, std::chrono::milliseconds(*timeout));
  if (!response.ok()) return Fail(kExitFailed, std::string(response.status().message()));
  if (response->status() != Response::OK) {
    return Fail(
        kExitFailed,
        std::string(ResponseError(DescribeReplica(*replica), "log query", *response).message()));
  }
  LogQueryResult result;
  if (!result.ParseFromString(response->data())) {
    return Fail(kExitFailed, absl::StrCat(DescribeReplica(*replica),
                                          " answered with data that is not a LogQueryResult"));
  }
  std::cout << (*json ? LogJson(result) : LogTable(replica->id(), result)) << std::flush;
  return 0;
}

int Main(int argc, char** argv) {
  Arguments args;
  if (int exit_code = ParseArguments(argc, argv, &args); exit_code >= 0) return exit_code;

  if (args.command.empty()) {
    return UsageError(absl::StrCat("a command is required: one of ", CommandNames()));
  }
  const Command* command = nullptr;
  for (const Command& candidate : Commands()) {
    if (args.command == candidate.name) command = &candidate;
  }
  if (command == nullptr) {
    return UsageError(
        absl::StrCat("unknown command \"", args.command, "\": expected one of ", CommandNames()));
  }
  if (!args.operands.empty()) {
    return UsageError(
        absl::StrCat("unexpected argument \"", args.operands.front(), "\" after ", command->name));
  }
  for (const auto& [name, value] : args.flags) {
    if (name != "config" && command->flags.count(name) == 0) {
      return UsageError(absl::StrCat("--", name, " is not a flag of ", command->name));
    }
  }
  auto config_flag = args.flags.find("config");
  if (config_flag == args.flags.end() || config_flag->second.empty()) {
    return UsageError("--config is required: the client config file");
  }
  absl::StatusOr<ResDBConfig> config = ResDBConfig::LoadFromFile(config_flag->second, 0);
  if (!config.ok()) return Fail(kExitUsage, std::string(config.status().message()));
  return command->run(*config, args);
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  // gRPC logs connection trouble to stderr; the tool reports failures itself.
  // GRPC_VERBOSITY set by the user still wins.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  return resdb::Main(argc, argv);
}
