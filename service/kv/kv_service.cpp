// kv_service: one replica of a replicated key-value store.
//
//   kv_service --config server.config --id 1 --data_dir /var/lib/resdb/1
//
// The config's consensus_protocol ("pbft" by default, or "raft") decides how the replicas
// agree on the order of writes. Every problem found before serving (bad flags, a config that
// does not load, keys that cannot be read, storage that cannot be opened) is reported as one
// line on stderr and the process exits with status 1, before any port is opened.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "platform/networkstrate/tls_credentials.h"
#include "platform/statistic/stats.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/staged_storage.h"
#include "service/kv/kv_executor.h"
#include "service/utils/server_factory.h"

DEFINE_string(config, "", "Path of the replica config (JSON ResConfigData). Required.");
DEFINE_int64(id, 0, "This replica's id; must appear in the config. Required.");
DEFINE_string(data_dir, "",
              "Directory of the replica's LevelDB database. Default: the config's data_dir, "
              "else ./resdb_data/replica<id>.");
DEFINE_string(private_key, "",
              "PEM Ed25519 private key this replica signs its messages with. Other replicas' "
              "public keys come from the config's public_key_file entries.");
DEFINE_int32(metrics_port, 0,
             "Serve Prometheus metrics on <replica ip>:<port>/metrics; 0 turns it off.");
DEFINE_bool(join, false,
            "RAFT: join a running cluster instead of forming one with the replicas of the "
            "config. The replica waits, not voting, until the leader adds it "
            "(resdb_admin add-replica); the config must list this replica and at least one "
            "member. Harmless on later restarts.");

namespace resdb {
namespace {

[[noreturn]] void Fail(const absl::Status& status) {
  std::fprintf(stderr, "kv_service: %s\n", std::string(status.message()).c_str());
  std::exit(1);
}

std::string DataDir(const ResDBConfig& config) {
  if (!FLAGS_data_dir.empty()) return FLAGS_data_dir;
  if (!config.GetConfigData().data_dir().empty()) {
    return absl::StrCat(config.GetConfigData().data_dir(), "/replica", config.GetSelfId());
  }
  return absl::StrCat("resdb_data/replica", config.GetSelfId());
}

int Run() {
  if (FLAGS_config.empty()) Fail(absl::InvalidArgumentError("--config is required"));
  if (FLAGS_id <= 0) {
    Fail(absl::InvalidArgumentError("--id is required and must be a positive replica id"));
  }
  if (FLAGS_metrics_port < 0 || FLAGS_metrics_port > 65535) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("--metrics_port: ", FLAGS_metrics_port, " is out of range 0..65535")));
  }
  auto config = ResDBConfig::LoadFromFile(FLAGS_config, FLAGS_id);
  if (!config.ok()) Fail(config.status());
  // The config's validation refuses it for a protocol whose replicas cannot join.
  if (FLAGS_join)
    config->MutableConfigData()->mutable_raft_config()->set_join_existing_cluster(true);

  // Replica messages are signed and verified when the config requires it (PBFT's fault
  // model); then every replica needs a key.
  std::unique_ptr<Signer> signer;
  std::shared_ptr<Verifier> verifier;
  if (config->GetConfigData().require_signatures()) {
    if (FLAGS_private_key.empty()) {
      Fail(absl::InvalidArgumentError(
          "--private_key: required because the config sets require_signatures"));
    }
    auto loaded = Signer::LoadFromFile(FLAGS_private_key);
    if (!loaded.ok()) Fail(loaded.status());
    signer = std::move(*loaded);
    verifier = std::make_shared<Verifier>();
    for (const ReplicaInfo& replica : config->GetReplicaInfos()) {
      if (replica.public_key_file().empty()) {
        Fail(absl::InvalidArgumentError(
            absl::StrCat("config file ", FLAGS_config, ": replica ", replica.id(),
                         " has no public_key_file, which require_signatures needs")));
      }
      absl::Status added = verifier->AddPublicKeyFromFile(replica.id(), replica.public_key_file());
      if (!added.ok()) Fail(added);
    }
  }

  absl::Status supported = CheckServerConfig(*config);
  if (!supported.ok()) {
    Fail(absl::Status(supported.code(),
                      absl::StrCat("config file ", FLAGS_config, ": ", supported.message())));
  }

  // Unreadable TLS files are found before anything is created.
  auto credentials = MakeServerCredentials(*config);
  if (!credentials.ok()) {
    Fail(absl::Status(credentials.status().code(), absl::StrCat("config file ", FLAGS_config, ": ",
                                                                credentials.status().message())));
  }

  const std::string data_dir = DataDir(*config);
  auto storage = OpenLevelDBStorage(data_dir);
  if (!storage.ok()) Fail(storage.status());
  PrefixAllocator prefixes;
  auto user_data = prefixes.Allocate(storage->get(), kUserDataPrefix, "kv user data");
  if (!user_data.ok()) Fail(user_data.status());

  Stats stats;
  if (FLAGS_metrics_port > 0) {
    absl::Status exporter =
        stats.StartExporter(absl::StrCat(config->GetSelfInfo().ip(), ":", FLAGS_metrics_port));
    if (!exporter.ok()) Fail(exporter);
  }

  ServerParts parts;
  parts.config = &*config;
  // Both protocols keep a synced log (RAFT's log, PBFT's ledger) and write the executed seq
  // after each batch's state in the same database, replaying the log past it at restart, so
  // the state machine itself need not sync. The consensus manager holds each batch's writes
  // back and writes them with the batch's applied-request records in one write, so that a
  // crash cannot separate the two.
  auto staged = std::make_unique<StagedStorage>(user_data->get());
  parts.staged_state = staged.get();
  parts.transaction_manager = std::make_unique<KVExecutor>(
      staged.get(), /*sync=*/false, static_cast<uint64_t>(config->GetQuotaBytes()), &stats);
  parts.storage = storage->get();
  parts.prefixes = &prefixes;
  parts.stats = &stats;
  auto server = CreateResDBServer(std::move(parts));
  if (!server.ok()) Fail(server.status());
  if (signer != nullptr) {
    (*server)->manager()->SetSigner(std::move(signer));
    (*server)->SetVerifier(verifier);
  }

  absl::Status started = (*server)->Start();
  if (!started.ok()) Fail(started);
  LOG(INFO) << "replica " << config->GetSelfId() << " serving " << config->GetSelfInfo().ip() << ":"
            << (*server)->port() << " protocol=" << config->GetConsensusProtocol()
            << " data_dir=" << data_dir;

  // SIGTERM and SIGINT stop the server cleanly: wait for either on this thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int received = 0;
  sigwait(&signals, &received);
  LOG(INFO) << "replica " << config->GetSelfId() << " stopping on signal " << received;
  (*server)->Stop();
  return 0;
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "one replica of the replicated key-value store.\n"
      "  kv_service --config server.config --id 1 [--data_dir DIR] [--private_key KEY.pem] "
      "[--metrics_port P] [--join]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  // Block the stop signals in every thread so that only Run()'s sigwait receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return resdb::Run();
}
