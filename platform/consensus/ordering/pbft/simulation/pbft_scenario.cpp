#include "platform/consensus/ordering/pbft/simulation/pbft_scenario.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace resdb {
namespace pbft {
namespace simulation {
namespace {

ScenarioConfig Base(const std::string& name) {
  ScenarioConfig c;
  c.name = name;
  // Small intervals so that a run crosses many checkpoints and watermark windows.
  c.replica.checkpoint_interval = 10;
  c.replica.watermark_window = 40;
  c.replica.view_change_timeout_ticks = 10;
  c.replica.retransmit_ticks = 5;
  return c;
}

}  // namespace

std::vector<std::string> ScenarioNames() {
  return {"normal",
          "lossy",
          "primary_crash",
          "silent_primary",
          "crash_restart",
          "mass_crash_restart",
          "partition_catchup",
          "equivocating_primary",
          "forged_evidence",
          "forged_requests",
          "chaos",
          "primary_crash_idle",
          "tight_window"};
}

absl::StatusOr<ScenarioConfig> ScenarioByName(const std::string& name) {
  ScenarioConfig c = Base(name);
  if (name == "normal") {
    c.proposal_rate = 0.8;
  } else if (name == "lossy") {
    // Loss, duplicates and delays of up to three ticks (reordering across ticks).
    c.fault_network.drop_rate = 0.1;
    c.fault_network.duplicate_rate = 0.1;
    c.fault_network.max_delay = 30;
  } else if (name == "primary_crash") {
    c.crash_primary = true;
  } else if (name == "silent_primary") {
    c.silence_primary = true;
  } else if (name == "crash_restart") {
    c.crash_rate = 0.03;
    c.fault_network.drop_rate = 0.02;
    c.fault_network.max_delay = 15;
  } else if (name == "mass_crash_restart") {
    // Up to all but one replica down at once: no progress then, but what was committed must
    // survive in the durable records.
    c.crash_rate = 0.06;
    c.max_down = 1000;
    c.crash_primary_bias = 0.4;
    c.min_down_ticks = 3;
    c.max_down_ticks = 30;
    c.fault_network.drop_rate = 0.02;
    c.fault_network.max_delay = 15;
  } else if (name == "tight_window") {
    // Watermarks two checkpoints wide under loss: replicas often hold stable checkpoints they
    // have not reached yet and prepared batches near the high watermark when a view changes.
    c.replica.watermark_window = 20;
    c.proposal_rate = 1.0;
    c.fault_network.drop_rate = 0.1;
    c.fault_network.duplicate_rate = 0.05;
    c.fault_network.max_delay = 30;
    c.isolation_rate = 0.02;
    c.isolate_any = true;
  } else if (name == "partition_catchup") {
    // One backup cut off long enough for the others to pass several stable checkpoints
    // and move their watermarks beyond it: only FETCH brings it back.
    c.proposal_rate = 1.0;
    c.isolation_rate = 0.05;
    c.min_isolation_ticks = 80;
    c.max_isolation_ticks = 120;
    c.expect_fetch = true;
  } else if (name == "equivocating_primary") {
    c.equivocating_primary = true;
    c.fault_network.drop_rate = 0.03;
    c.fault_network.max_delay = 15;
  } else if (name == "forged_evidence" || name == "forged_requests") {
    // Seven replicas: the forger and one crashed replica at a time still leave a quorum;
    // crashes mostly of the primary change views again and again while batches commit, so the
    // forger's turns come (and a forger that proposes forged requests is replaced in turn).
    c.nodes = 7;
    c.forging_backup = name == "forged_evidence";
    c.forging_requests = name == "forged_requests";
    c.crash_rate = 0.05;
    c.crash_primary_bias = 0.7;
    c.isolation_rate = 0.03;
    c.proposal_rate = 1.0;
    c.fault_network.drop_rate = 0.05;
    c.fault_network.max_delay = 30;
  } else if (name == "chaos") {
    c.fault_network.drop_rate = 0.05;
    c.fault_network.duplicate_rate = 0.05;
    c.fault_network.max_delay = 30;
    c.fault_network.long_delay_rate = 0.01;
    c.fault_network.long_delay_max = 300;
    c.crash_rate = 0.015;
    c.isolation_rate = 0.01;
    c.isolate_any = true;
    c.proposal_rate = 0.8;
  } else if (name == "primary_crash_idle") {
    c.crash_primary_idle = true;
  } else {
    return absl::NotFoundError(absl::StrCat("unknown scenario '", name, "'"));
  }
  return c;
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
