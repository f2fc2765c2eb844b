#include "platform/consensus/ordering/pbft/replica_config.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/evidence.h"

namespace resdb {
namespace pbft {

int TickMs(const ResDBConfig& config) {
  return std::max(1, std::min(config.GetHeartBeatIntervalMs(),
                              config.GetPbftConfig().view_change_timeout_ms() / 10));
}

PbftReplicaOptions OptionsFrom(const ResDBConfig& config) {
  const int tick_ms = TickMs(config);
  const PbftConfig& pbft = config.GetPbftConfig();
  PbftReplicaOptions options;
  options.retransmit_ticks =
      static_cast<uint64_t>(std::max(1, pbft.view_change_timeout_ms() / 3 / tick_ms));
  options.checkpoint_interval = static_cast<uint64_t>(std::max(1, pbft.checkpoint_interval()));
  options.watermark_window = std::max<uint64_t>(
      options.checkpoint_interval, static_cast<uint64_t>(std::max(1, pbft.watermark_window())));
  if (pbft.enable_view_change()) {
    options.view_change_timeout_ticks =
        static_cast<uint64_t>(std::max(1, pbft.view_change_timeout_ms() / tick_ms));
  } else {
    options.view_change_timeout_ticks = std::numeric_limits<uint64_t>::max();
  }
  return options;
}

absl::Status CheckNewViewFits(const ResDBConfig& config) {
  const uint64_t window = OptionsFrom(config).watermark_window;
  const int64_t new_view_bytes = MaxNewViewBytes(config.GetReplicaNum(), window);
  if (new_view_bytes <= config.GetMaxMessageBytes()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "pbft_config.watermark_window ", window, " with ", config.GetReplicaNum(),
      " replicas makes a NEWVIEW of up to ", new_view_bytes, " bytes, above max_message_bytes (",
      config.GetMaxMessageBytes(), "): lower the window or raise the limit"));
}

bool HasReplicaKeys(const ResDBConfig& config) {
  if (!config.GetConfigData().require_signatures()) return false;
  for (const ReplicaInfo& replica : config.GetReplicaInfos()) {
    if (replica.public_key_file().empty()) return false;
  }
  return !config.GetReplicaInfos().empty();
}

absl::StatusOr<std::unique_ptr<Verifier>> LoadReplicaKeys(const ResDBConfig& config) {
  if (!HasReplicaKeys(config)) return nullptr;
  auto keys = std::make_unique<Verifier>();
  for (const ReplicaInfo& replica : config.GetReplicaInfos()) {
    absl::Status added = keys->AddPublicKeyFromFile(replica.id(), replica.public_key_file());
    if (!added.ok()) return added;
  }
  return keys;
}

PbftReplicaOptions WithEvidenceCheck(PbftReplicaOptions options, const ResDBConfig& config,
                                     const std::unique_ptr<Verifier>* keys, SignatureMaker sign) {
  if (!HasReplicaKeys(config)) return options;
  options.verify_signature = [keys](int64_t node, absl::string_view data,
                                    absl::string_view signature) {
    return *keys != nullptr && (*keys)->Verify(node, data, signature);
  };
  options.sign = std::move(sign);
  return options;
}

bool IsProtocolMessage(Request::Type type) {
  switch (type) {
    case Request::TYPE_PRE_PREPARE:
    case Request::TYPE_PREPARE:
    case Request::TYPE_COMMIT:
    case Request::TYPE_CHECKPOINT:
    case Request::TYPE_VIEWCHANGE:
    case Request::TYPE_NEWVIEW:
    case Request::TYPE_RECOVERY_DATA:
    case Request::TYPE_RECOVERY_DATA_RESP:
      return true;
    default:
      return false;
  }
}

}  // namespace pbft
}  // namespace resdb
