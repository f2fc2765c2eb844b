#ifndef SERVICE_UTILS_SERVER_FACTORY_H_
#define SERVICE_UTILS_SERVER_FACTORY_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/config/resdb_config.h"
#include "platform/consensus/execution/transaction_manager.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/networkstrate/service_network.h"
#include "platform/statistic/stats.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/staged_storage.h"
#include "platform/storage/storage.h"

namespace resdb {

// What a ConsensusManager is built from. Every pointer must outlive the server.
struct ServerParts {
  const ResDBConfig* config = nullptr;
  // The service's state machine (KV, contract, ...).
  std::unique_ptr<TransactionManager> transaction_manager;
  // The replica's database; protocols take their own prefixes from it.
  Storage* storage = nullptr;
  // Where every prefix of `storage` is registered (the service's own included); each
  // protocol takes its own prefixes from it. Required.
  PrefixAllocator* prefixes = nullptr;
  Stats* stats = nullptr;
  // The StagedStorage the service writes through, over the kUserDataPrefix view of `storage`,
  // so that each batch's state is written with its applied-request records in one write
  // (ApplyRecorder), under either protocol. Optional: without it the service writes directly
  // and the two writes are separate.
  StagedStorage* staged_state = nullptr;
};

// OK if this build can run the protocol `config.GetConsensusProtocol()` names with this
// config; otherwise an error naming the field. Servers call it before opening any file or
// port, so a config that cannot work fails before anything is half-initialised.
absl::Status CheckServerConfig(const ResDBConfig& config);

// Builds the ConsensusManager for the config's consensus_protocol ("pbft" when the field is
// absent). An unknown protocol is an error, never a silent fallback.
absl::StatusOr<std::unique_ptr<ConsensusManager>> CreateConsensusManager(ServerParts parts);

// Builds the server: the protocol's ConsensusManager behind a ServiceNetwork serving the
// replica's address. The caller Start()s it.
absl::StatusOr<std::unique_ptr<ServiceNetwork>> CreateResDBServer(ServerParts parts);

}  // namespace resdb

#endif  // SERVICE_UTILS_SERVER_FACTORY_H_
