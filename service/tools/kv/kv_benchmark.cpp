// Closed-loop load generator for the key-value service (or, for comparison, an etcd cluster):
// N client threads, each with its own client, send one request at a time for a duration or a
// number of requests, and the tool reports throughput, latency percentiles and the client
// process's CPU time per request.

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"
#include "interface/kv/kv_client.h"
#include "platform/config/resdb_config.h"
#include "service/tools/kv/benchmark_target.h"
#include "service/tools/kv/etcd_target.h"
#include "service/tools/kv/latency_histogram.h"

DEFINE_string(config, "", "Client config file (JSON listing the replicas).");
DEFINE_string(etcd_endpoints, "",
              "Drive an etcd v3 cluster instead: host:port of its members, comma-separated.");
DEFINE_string(etcd_ca, "", "etcd over TLS: the CA file (PEM) of the members' certificates.");
DEFINE_string(etcd_cert, "", "etcd over TLS: this client's certificate file (PEM).");
DEFINE_string(etcd_key, "", "etcd over TLS: this client's private key file (PEM).");
DEFINE_string(etcd_server_name, "", "etcd over TLS: the name on the members' certificates.");
DEFINE_int32(clients, 16, "Client threads, each with its own client and one request in flight.");
DEFINE_int32(value_size, 256, "Bytes per written value.");
DEFINE_double(duration_s, 10, "Measured seconds (after the warm-up), unless --ops is given.");
DEFINE_int64(ops, 0, "Total measured requests over all clients; overrides --duration_s.");
DEFINE_double(write_ratio, 1.0, "Fraction of requests that are writes (0..1); the rest are reads.");
DEFINE_int64(key_space, 100000, "Keys are drawn uniformly from this many.");
DEFINE_int64(preload_keys, 0, "Keys written before the run (not measured) for reads to find.");
DEFINE_double(warmup_s, 1, "Seconds of load before measuring; their requests are not counted.");
DEFINE_string(json_out, "", "Also write the results as JSON to this file.");
DEFINE_int32(timeout_ms, 0,
             "Deadline of each request in ms (0: the config's client_timeout_ms; 10000 for etcd).");

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kTool[] = "kv_benchmark";
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kMaxClients = 4096;
// Room in a message for everything but the value (envelope, request, key).
constexpr int64_t kMessageOverheadBytes = 1024;
constexpr int kEtcdTimeoutMs = 10000;
constexpr size_t kPreloadWriters = 16;

constexpr char kUsage[] = R"(measures the key-value service under closed-loop load.

Usage:
  kv_benchmark --config=CLIENT_CONFIG [flags]
  kv_benchmark --etcd_endpoints=HOST:PORT[,HOST:PORT...] [flags]

Each of --clients threads has its own client and keeps one request in flight. A request is
a write (SET of a --value_size value to a key drawn uniformly from --key_space keys) with
probability --write_ratio, else a linearizable GET of a key the same thread has written or of
a preloaded key; a thread that has nothing to read yet writes instead. The first --warmup_s
seconds are not measured; then the run lasts --duration_s seconds, or until --ops requests
were sent if --ops is given.

Flags:
  --config PATH        client config (JSON) listing the replicas
  --etcd_endpoints L   instead of --config: drive an etcd v3 cluster (plaintext gRPC, its KV
                       Put and linearizable Range), client i talking to member i mod n, as
                       etcd's own benchmark does; the same load and report, for comparison
  --etcd_ca FILE, --etcd_cert FILE, --etcd_key FILE, --etcd_server_name NAME
                       etcd over mutual TLS: the members' CA, this client's certificate and
                       key, and the name the members' certificates carry
  --clients N          client threads (default 16)
  --value_size BYTES   size of written values (default 256)
  --duration_s S       measured seconds (default 10)
  --ops N              measured requests in total; overrides --duration_s
  --write_ratio R      fraction of writes, 0..1 (default 1.0)
  --key_space N        number of distinct keys (default 100000)
  --preload_keys N     write keys 0..N-1 before the run for reads (default 0; needed when
                       --write_ratio is 0)
  --warmup_s S         unmeasured seconds of load first (default 1)
  --json_out FILE      also write the results as JSON to FILE
  --timeout_ms N       deadline of each request (default: the config's client_timeout_ms;
                       10000 for etcd)
  --help               this text

Output (stdout): requests sent in the measured phase ("ops"), how many failed by status code,
throughput of the successful ones in ops/s, their latency p50/p99/p99.9/max in ms, and the
CPU time (user + system, getrusage) of this whole client process per request in us.
--json_out FILE gets {"clients", "value_size", "write_ratio", "ops", "errors",
"errors_by_code", "elapsed_s", "throughput_ops_s", "latency_ms": {"p50", "p99", "p999",
"max"}, "client_cpu_us_per_op"}.

Exit status: 0 when some request succeeded, 1 when every measured request failed (or the
preload did), 2 bad arguments or config. Failures print one line starting with
"kv_benchmark: " on stderr.)";

// Prints one line to stderr: newlines inside the message would break "one line".
int Fail(int exit_code, const std::string& message) {
  std::cerr << kTool << ": " << absl::StrReplaceAll(message, {{"\r", " "}, {"\n", " "}})
            << std::endl;
  return exit_code;
}

int UsageError(const std::string& message) {
  return Fail(kExitUsage, absl::StrCat(message, " (see --help)"));
}

// Parses "--name=value" and "--name value" (one or two dashes) into the flags, so that every
// mistake is one line and exit status 2. Returns -1 to go on, otherwise the exit status.
int ParseArguments(int argc, char** argv) {
  static const std::set<std::string> kFlags = {
      "config",   "etcd_endpoints", "etcd_ca",    "etcd_cert", "etcd_key",    "etcd_server_name",
      "clients",  "value_size",     "duration_s", "ops",       "write_ratio", "key_space",
      "warmup_s", "preload_keys",   "json_out",   "timeout_ms"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return UsageError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    const std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t equals = body.find('=');
    const std::string name = body.substr(0, equals);
    if (name == "help" || name == "helpfull" || name == "h") {
      std::cout << kTool << " " << kUsage << std::endl;
      return 0;
    }
    if (kFlags.count(name) == 0) return UsageError(absl::StrCat("unknown flag --", name));
    std::string value;
    if (equals != std::string::npos) {
      value = body.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return UsageError(absl::StrCat("--", name, " needs a value"));
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      return UsageError(absl::StrCat("invalid value \"", value, "\" for --", name));
    }
  }
  return -1;
}

bool FlagGiven(const char* name) {
  gflags::CommandLineFlagInfo info;
  return gflags::GetCommandLineFlagInfo(name, &info) && !info.is_default;
}

// Empty when the flags make sense together, else what is wrong with them.
std::string CheckFlags() {
  if (FLAGS_config.empty() == FLAGS_etcd_endpoints.empty()) {
    return "give either --config (this project's replicas) or --etcd_endpoints (an etcd cluster)";
  }
  if (FLAGS_clients < 1 || FLAGS_clients > kMaxClients) {
    return absl::StrCat("--clients must be in 1..", kMaxClients, ", not ", FLAGS_clients);
  }
  if (FLAGS_value_size < 0) return "--value_size must not be negative";
  if (!(FLAGS_duration_s > 0)) return "--duration_s must be positive";
  if (FLAGS_ops < 0) return "--ops must not be negative";
  if (FlagGiven("ops") && FLAGS_ops == 0) return "--ops must be positive";
  if (!(FLAGS_write_ratio >= 0 && FLAGS_write_ratio <= 1)) {
    return "--write_ratio must be between 0 and 1";
  }
  if (FLAGS_key_space < 1) return "--key_space must be positive";
  if (FLAGS_preload_keys < 0 || FLAGS_preload_keys > FLAGS_key_space) {
    return "--preload_keys must be in 0..--key_space";
  }
  if (FLAGS_write_ratio == 0 && FLAGS_preload_keys == 0) {
    return "--write_ratio 0 (reads only) needs --preload_keys > 0";
  }
  if (!(FLAGS_warmup_s >= 0)) return "--warmup_s must not be negative";
  if (FLAGS_timeout_ms < 0) return "--timeout_ms must not be negative";
  return "";
}

std::string KeyName(int64_t index) { return absl::StrFormat("bench-%010d", index); }

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// What one client thread saw in the measured phase.
struct ThreadResult {
  int64_t ops = 0;
  int64_t reads = 0;
  int64_t writes = 0;
  std::map<absl::StatusCode, int64_t> errors;
  std::string first_error;
  LatencyHistogram latency;
};

struct RunPlan {
  Clock::time_point measure_start;
  Clock::time_point measure_end;  // duration mode only
  bool by_ops = false;
  int64_t total_ops = 0;
};

// One client thread's closed loop. `tickets` hands out the measured requests in --ops mode.
void ClientLoop(int index, BenchmarkTarget* client, const RunPlan& plan,
                std::atomic<int64_t>* tickets, ThreadResult* result) {
  std::mt19937_64 rng(std::random_device{}() ^ (static_cast<uint64_t>(index) << 32));
  std::uniform_int_distribution<int64_t> any_key(0, FLAGS_key_space - 1);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::string value(static_cast<size_t>(FLAGS_value_size), 'x');
  for (char& c : value) c = static_cast<char>('a' + rng() % 26);
  // Keys this thread wrote successfully, in addition to the preloaded 0..preload_keys-1.
  std::vector<int64_t> written;
  std::set<int64_t> written_set;

  while (true) {
    const Clock::time_point now = Clock::now();
    const bool measured = now >= plan.measure_start;
    if (measured) {
      if (plan.by_ops) {
        if (tickets->fetch_add(1) >= plan.total_ops) break;
      } else if (now >= plan.measure_end) {
        break;
      }
    }
    const int64_t readable = FLAGS_preload_keys + static_cast<int64_t>(written.size());
    const bool write = readable == 0 || coin(rng) < FLAGS_write_ratio;
    int64_t key;
    if (write) {
      key = any_key(rng);
    } else {
      const int64_t pick = std::uniform_int_distribution<int64_t>(0, readable - 1)(rng);
      key = pick < FLAGS_preload_keys ? pick : written[pick - FLAGS_preload_keys];
    }
    const Clock::time_point start = Clock::now();
    absl::Status status =
        write ? client->Set(KeyName(key), value) : client->Get(KeyName(key)).status();
    const int64_t micros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    if (write && status.ok() && written_set.insert(key).second) written.push_back(key);
    if (!measured) continue;
    ++result->ops;
    ++(write ? result->writes : result->reads);
    if (status.ok()) {
      result->latency.Record(micros);
    } else {
      ++result->errors[status.code()];
      if (result->first_error.empty()) {
        result->first_error =
            absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
      }
    }
  }
}

// Writes keys 0..preload_keys-1, spread over the first clients. Returns the first failure.
absl::Status Preload(const std::vector<std::unique_ptr<BenchmarkTarget>>& clients) {
  const std::string value(static_cast<size_t>(FLAGS_value_size), 'p');
  // A few writers are enough: hundreds at once would only queue up behind each other and run
  // into their deadlines on a slow system.
  const size_t writers = std::min<size_t>(clients.size(), kPreloadWriters);
  std::vector<absl::Status> failures(writers);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < writers; ++i) {
    threads.emplace_back([&, i] {
      for (int64_t key = i; key < FLAGS_preload_keys; key += writers) {
        absl::Status status = clients[i]->Set(KeyName(key), value);
        if (!status.ok()) {
          failures[i] = status;
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : failures) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

struct Summary {
  int64_t ops = 0;
  int64_t errors = 0;
  int64_t reads = 0;
  int64_t writes = 0;
  std::map<absl::StatusCode, int64_t> errors_by_code;
  std::string first_error;
  LatencyHistogram latency;
  double elapsed_s = 0;
  double cpu_s = 0;

  double throughput() const { return elapsed_s > 0 ? latency.count() / elapsed_s : 0; }
  double cpu_us_per_op() const { return ops > 0 ? cpu_s * 1e6 / ops : 0; }
};

double Millis(int64_t micros) { return micros / 1000.0; }

std::string ErrorsByCode(const Summary& summary, const char* separator, bool json) {
  std::vector<std::string> parts;
  for (const auto& [code, count] : summary.errors_by_code) {
    const std::string name = absl::StatusCodeToString(code);
    parts.push_back(json ? absl::StrCat("\"", name, "\": ", count)
                         : absl::StrCat(name, ": ", count));
  }
  return absl::StrJoin(parts, separator);
}

std::string Json(const Summary& s) {
  const LatencyHistogram& h = s.latency;
  return absl::StrFormat(
      "{\"clients\": %d, \"value_size\": %d, \"write_ratio\": %g, \"ops\": %d, "
      "\"errors\": %d, \"errors_by_code\": {%s}, \"reads\": %d, \"writes\": %d, "
      "\"elapsed_s\": %.3f, \"throughput_ops_s\": %.1f, "
      "\"latency_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f}, "
      "\"client_cpu_us_per_op\": %.1f}\n",
      FLAGS_clients, FLAGS_value_size, FLAGS_write_ratio, s.ops, s.errors,
      ErrorsByCode(s, ", ", true), s.reads, s.writes, s.elapsed_s, s.throughput(),
      Millis(h.Percentile(0.5)), Millis(h.Percentile(0.99)), Millis(h.Percentile(0.999)),
      Millis(h.max()), s.cpu_us_per_op());
}

void PrintReport(const Summary& s) {
  const LatencyHistogram& h = s.latency;
  std::cout << absl::StrFormat(
      "clients %d, value_size %d B, write_ratio %g, measured %.3f s\n"
      "ops         %d (%d writes, %d reads)\n"
      "errors      %d%s\n"
      "throughput  %.1f ops/s\n"
      "latency ms  p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n"
      "client cpu  %.3f s, %.1f us/op\n",
      FLAGS_clients, FLAGS_value_size, FLAGS_write_ratio, s.elapsed_s, s.ops, s.writes, s.reads,
      s.errors, s.errors == 0 ? "" : absl::StrCat(" (", ErrorsByCode(s, ", ", false), ")"),
      s.throughput(), Millis(h.Percentile(0.5)), Millis(h.Percentile(0.99)),
      Millis(h.Percentile(0.999)), Millis(h.max()), s.cpu_s, s.cpu_us_per_op());
}

int Main(int argc, char** argv) {
  gflags::SetUsageMessage(kUsage);
  if (int exit_code = ParseArguments(argc, argv); exit_code >= 0) return exit_code;
  if (std::string problem = CheckFlags(); !problem.empty()) return UsageError(problem);

  std::vector<std::unique_ptr<BenchmarkTarget>> clients;
  if (FLAGS_etcd_endpoints.empty()) {
    absl::StatusOr<ResDBConfig> config = ResDBConfig::LoadFromFile(FLAGS_config, 0);
    if (!config.ok()) return Fail(kExitUsage, std::string(config.status().message()));
    const int64_t max_bytes = config->GetMaxMessageBytes();
    if (max_bytes > 0 && FLAGS_value_size + kMessageOverheadBytes > max_bytes) {
      return UsageError(absl::StrCat("--value_size ", FLAGS_value_size,
                                     " does not fit the config's max_message_bytes ", max_bytes));
    }
    for (int i = 0; i < FLAGS_clients; ++i) {
      auto client = std::make_unique<KVClient>(*config);
      if (FLAGS_timeout_ms > 0) client->SetTimeoutMs(FLAGS_timeout_ms);
      client->SetConsistency("linearizable");
      clients.push_back(std::make_unique<ResDBTarget>(std::move(client)));
    }
  } else {
    const std::vector<std::string> endpoints =
        absl::StrSplit(FLAGS_etcd_endpoints, ',', absl::SkipEmpty());
    for (const std::string& endpoint : endpoints) {
      if (endpoint.find(':') == std::string::npos) {
        return UsageError(absl::StrCat("--etcd_endpoints: \"", endpoint, "\" is not host:port"));
      }
    }
    if (endpoints.empty()) return UsageError("--etcd_endpoints lists no endpoint");
    const std::chrono::milliseconds timeout(FLAGS_timeout_ms > 0 ? FLAGS_timeout_ms
                                                                 : kEtcdTimeoutMs);
    EtcdTls tls;
    if (!FLAGS_etcd_ca.empty()) {
      const std::vector<std::tuple<const char*, std::string, std::string*>> files = {
          {"etcd_ca", FLAGS_etcd_ca, &tls.ca},
          {"etcd_cert", FLAGS_etcd_cert, &tls.cert},
          {"etcd_key", FLAGS_etcd_key, &tls.key}};
      for (const auto& [flag, path, pem] : files) {
        std::ifstream in(path);
        std::stringstream content;
        content << in.rdbuf();
        if (!in || content.str().empty()) {
          return UsageError(absl::StrCat("--", flag, ": cannot read \"", path, "\""));
        }
        *pem = content.str();
      }
      tls.server_name = FLAGS_etcd_server_name;
    } else if (!FLAGS_etcd_cert.empty() || !FLAGS_etcd_key.empty()) {
      return UsageError("--etcd_cert and --etcd_key need --etcd_ca");
    }
    for (int i = 0; i < FLAGS_clients; ++i) {
      clients.push_back(NewEtcdTarget(endpoints[i % endpoints.size()], timeout, tls));
    }
  }
  if (FLAGS_preload_keys > 0) {
    if (absl::Status status = Preload(clients); !status.ok()) {
      return Fail(kExitFailed,
                  absl::StrCat("preload failed: ", absl::StatusCodeToString(status.code()), ": ",
                               status.message()));
    }
  }

  RunPlan plan;
  const Clock::time_point start = Clock::now();
  plan.measure_start = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(FLAGS_warmup_s));
  plan.by_ops = FlagGiven("ops");
  plan.total_ops = FLAGS_ops;
  plan.measure_end = plan.measure_start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(FLAGS_duration_s));

  std::atomic<int64_t> tickets{0};
  std::vector<ThreadResult> results(clients.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back(ClientLoop, static_cast<int>(i), clients[i].get(), std::cref(plan),
                         &tickets, &results[i]);
  }
  std::this_thread::sleep_until(plan.measure_start);
  const double cpu_start = CpuSeconds();
  const Clock::time_point measured_from = std::max(Clock::now(), plan.measure_start);
  for (std::thread& thread : threads) thread.join();
  const Clock::time_point measured_to = Clock::now();

  Summary summary;
  summary.cpu_s = CpuSeconds() - cpu_start;
  summary.elapsed_s = std::chrono::duration<double>(measured_to - measured_from).count();
  for (const ThreadResult& result : results) {
    summary.ops += result.ops;
    summary.reads += result.reads;
    summary.writes += result.writes;
    for (const auto& [code, count] : result.errors) {
      summary.errors += count;
      summary.errors_by_code[code] += count;
    }
    if (summary.first_error.empty()) summary.first_error = result.first_error;
    summary.latency.Merge(result.latency);
  }

  if (!FLAGS_json_out.empty()) {
    std::ofstream out(FLAGS_json_out);
    out << Json(summary);
    out.close();
    if (!out) return Fail(kExitFailed, absl::StrCat("cannot write --json_out ", FLAGS_json_out));
  }
  if (summary.ops > 0 && summary.errors == summary.ops) {
    return Fail(kExitFailed, absl::StrCat("all ", summary.ops, " requests failed (",
                                          ErrorsByCode(summary, ", ", false),
                                          "); first: ", summary.first_error));
  }
  if (summary.ops == 0) return Fail(kExitFailed, "no request was measured");
  PrintReport(summary);
  return 0;
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  // gRPC logs connection trouble to stderr; the tool reports failures itself.
  // GRPC_VERBOSITY set by the user still wins.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  return resdb::Main(argc, argv);
}
