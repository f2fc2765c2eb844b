// Config files are read at start-up and by every tool: any text must either load as a valid
// config or be refused with an error, and what loads must load again after ToJson (tools
// rewrite configs).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "platform/config/resdb_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  for (int64_t self_id : {0, 1}) {
    absl::StatusOr<resdb::ResDBConfig> config = resdb::ResDBConfig::LoadFromJson(json, self_id);
    if (!config.ok()) continue;
    config->GetMaxMaliciousReplicaNum();
    config->GetMinDataReceiveNum();
    const std::string again = resdb::ResDBConfig::ToJson(config->GetConfigData());
    absl::StatusOr<resdb::ResDBConfig> reloaded = resdb::ResDBConfig::LoadFromJson(again, self_id);
    if (!reloaded.ok()) {
      std::fprintf(stderr, "a loaded config does not reload from its JSON: %s\n%s\n",
                   reloaded.status().ToString().c_str(), again.c_str());
      std::abort();
    }
  }
  return 0;
}
