#include "service/utils/server_factory.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/consensus_manager_pbft.h"
#include "platform/consensus/ordering/raft/consensus_manager_raft.h"

namespace resdb {
absl::Status CheckServerConfig(const ResDBConfig& config) {
  absl::Status valid = ResDBConfig::Validate(config.GetConfigData(), config.GetSelfId());
  if (!valid.ok()) return valid;
  if (config.GetSelfId() <= 0) {
    return absl::InvalidArgumentError("id: a server needs a replica id from the config");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ConsensusManager>> CreateConsensusManager(ServerParts parts) {
  if (parts.config == nullptr || parts.transaction_manager == nullptr || parts.storage == nullptr) {
    return absl::InvalidArgumentError(
        "server parts: config, transaction manager and storage "
        "are required");
  }
  absl::Status check = CheckServerConfig(*parts.config);
  if (!check.ok()) return check;
  if (parts.prefixes == nullptr) {
    return absl::InvalidArgumentError(
        "server parts: the consensus manager needs the storage's prefix allocator");
  }
  if (parts.config->GetConsensusProtocol() == kProtocolRaft) {
    auto manager = ConsensusManagerRaft::Create(*parts.config, std::move(parts.transaction_manager),
                                                parts.storage, parts.prefixes, parts.stats,
                                                parts.staged_state);
    if (!manager.ok()) return manager.status();
    return std::unique_ptr<ConsensusManager>(std::move(*manager));
  }
  if (parts.config->GetConsensusProtocol() == kProtocolPbft) {
    auto manager = ConsensusManagerPBFT::Create(*parts.config, std::move(parts.transaction_manager),
                                                parts.storage, parts.prefixes, parts.stats,
                                                parts.staged_state);
    if (!manager.ok()) return manager.status();
    return std::unique_ptr<ConsensusManager>(std::move(*manager));
  }
  // The config's validation admits only these two protocols.
  return absl::InternalError(absl::StrCat("consensus_protocol: no manager for \"",
                                          parts.config->GetConsensusProtocol(), "\""));
}

absl::StatusOr<std::unique_ptr<ServiceNetwork>> CreateResDBServer(ServerParts parts) {
  const ResDBConfig* config = parts.config;
  Stats* stats = parts.stats;
  auto manager = CreateConsensusManager(std::move(parts));
  if (!manager.ok()) return manager.status();
  return std::make_unique<ServiceNetwork>(*config, std::move(*manager), stats);
}

}  // namespace resdb
