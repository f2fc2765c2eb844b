#include "platform/consensus/ordering/raft/simulation/scenario.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace resdb {
namespace raft {
namespace {

ScenarioConfig Base(const std::string& name) {
  ScenarioConfig c;
  c.name = name;
  c.fault_network.min_delay = 1;
  c.fault_network.max_delay = 10;
  c.healed_network.min_delay = 1;
  c.healed_network.max_delay = 10;
  return c;
}

// Loss, duplication and delays, some of them very long.
void UseChaoticNetwork(ScenarioConfig& c) {
  c.fault_network.drop_rate = 0.08;
  c.fault_network.duplicate_rate = 0.05;
  c.fault_network.max_delay = 30;
  c.fault_network.long_delay_rate = 0.01;
  c.fault_network.long_delay_max = 300;
}

// The chaotic network, shifting asymmetric partitions, crashes, leadership transfers and
// busy clients.
void UseChaos(ScenarioConfig& c) {
  UseChaoticNetwork(c);
  c.partition_change_rate = 0.02;
  c.asymmetric_partitions = true;
  c.crash_rate = 0.02;
  c.max_down = 2;
  c.crashes_at_once = 1;
  c.transfer_rate = 0.01;
  c.proposal_rate = 0.8;
}

}  // namespace

std::vector<std::string> ScenarioNames() {
  return {"steady",
          "lossy",
          "partitions",
          "leader_isolation",
          "crash_restart",
          "double_crash_5",
          "high_load",
          "leader_transfer",
          "stale_messages",
          "election_storm",
          "crash_after_hard_state",
          "chaos",
          "snapshot_catch_up",
          "compaction_crash",
          "snapshot_chaos",
          "membership",
          "membership_crash",
          "membership_snapshots"};
}

absl::StatusOr<ScenarioConfig> ScenarioByName(const std::string& name) {
  ScenarioConfig c = Base(name);
  if (name == "steady") {
    c.proposal_rate = 0.5;
  } else if (name == "lossy") {
    // Drops, duplicates, and delays up to four ticks (reordering across heartbeats).
    c.fault_network.drop_rate = 0.15;
    c.fault_network.duplicate_rate = 0.1;
    c.fault_network.max_delay = 40;
    c.proposal_rate = 0.4;
  } else if (name == "partitions") {
    c.partition_change_rate = 0.04;
    c.asymmetric_partitions = true;
    c.fault_network.drop_rate = 0.02;
    c.fault_network.max_delay = 15;
  } else if (name == "leader_isolation") {
    c.leader_isolation_period = 80;
    c.leader_isolation_ticks = 40;
    c.fault_ticks = 400;
  } else if (name == "crash_restart") {
    c.crash_rate = 0.03;
    c.crashes_at_once = 1;
    c.max_down = 1;
    c.crash_leader_bias = 0.5;
    c.fault_network.max_delay = 15;
  } else if (name == "double_crash_5") {
    c.nodes = 5;
    c.crash_rate = 0.02;
    c.crashes_at_once = 2;
    c.max_down = 2;
    c.crash_leader_bias = 0.6;
  } else if (name == "high_load") {
    // Many proposals against small flow-control windows.
    c.proposal_rate = 4.0;
    c.fault_network.drop_rate = 0.02;
    c.fault_network.duplicate_rate = 0.02;
    c.fault_network.max_delay = 20;
    c.crash_rate = 0.005;
    c.node_options.max_uncommitted_bytes = 200;
    c.node_options.max_inflight_appends = 4;
    c.node_options.max_entries_per_append = 8;
    c.fault_ticks = 200;
  } else if (name == "leader_transfer") {
    c.transfer_rate = 0.03;
    c.fault_network.drop_rate = 0.05;
    c.fault_network.max_delay = 15;
  } else if (name == "stale_messages") {
    // A few messages arrive up to 60 ticks late, across elections; crashes and partitions
    // make sure there are elections to be late for.
    c.fault_network.long_delay_rate = 0.03;
    c.fault_network.long_delay_max = 600;
    c.fault_network.duplicate_rate = 0.05;
    c.partition_change_rate = 0.02;
    c.crash_rate = 0.01;
    c.transfer_rate = 0.01;
  } else if (name == "election_storm") {
    // Election timeouts close to the message delays: split votes, competing candidates and
    // frequent term changes.
    c.node_options.election_ticks_min = 4;
    c.node_options.election_ticks_max = 8;
    c.fault_network.max_delay = 30;
    c.fault_network.drop_rate = 0.1;
    c.fault_network.duplicate_rate = 0.05;
    c.crash_rate = 0.01;
  } else if (name == "crash_after_hard_state") {
    // Isolated leaders collect entries that their successors overwrite; a node often
    // crashes between saving the hard state and writing the log of the Ready that
    // truncates them.
    c.leader_isolation_period = 60;
    c.leader_isolation_ticks = 30;
    c.crash_on_truncate_rate = 0.5;
    c.proposal_rate = 0.6;
  } else if (name == "chaos") {
    UseChaos(c);
  } else if (name == "snapshot_catch_up") {
    // Followers stay down or cut off for long stretches while the leader takes snapshots
    // and compacts past them; they catch up through InstallSnapshot messages that the
    // network drops, duplicates and reorders.
    c.snapshot_every = 10;
    c.snapshot_tail = 2;
    c.proposal_rate = 0.8;
    c.crash_rate = 0.02;
    c.max_down = 1;
    c.crash_leader_bias = 0.1;
    c.min_down_ticks = 40;
    c.max_down_ticks = 120;
    c.partition_change_rate = 0.02;
    c.fault_network.drop_rate = 0.05;
    c.fault_network.duplicate_rate = 0.05;
    c.fault_network.max_delay = 20;
  } else if (name == "compaction_crash") {
    // Frequent snapshots and frequent crashes, only at the points around storing a
    // snapshot, compacting, installing a received one and persisting what it changed.
    c.snapshot_every = 4;
    c.snapshot_tail = 1;
    c.snapshot_timeout_ticks = 15;
    c.proposal_rate = 0.8;
    c.crash_rate = 0.08;
    c.max_down = 2;
    c.crash_leader_bias = 0.3;
    c.min_down_ticks = 10;
    c.max_down_ticks = 60;
    // Installs are rarer than snapshots: their points are listed twice to strike as often.
    c.crash_points = {CrashPoint::kAfterSnapshotSave,
                      CrashPoint::kBetweenCompactions,
                      CrashPoint::kAfterSnapshotInstall,
                      CrashPoint::kAfterRestoreSnapshot,
                      CrashPoint::kAfterSnapshotCompaction,
                      CrashPoint::kAfterSnapshotInstall,
                      CrashPoint::kAfterRestoreSnapshot,
                      CrashPoint::kAfterSnapshotCompaction,
                      CrashPoint::kBeforePersist,
                      CrashPoint::kAfterHardState,
                      CrashPoint::kAfterLogWrite};
    c.fault_network.duplicate_rate = 0.05;
  } else if (name == "snapshot_chaos") {
    // chaos with snapshots: late and duplicated snapshots, transfers across elections,
    // and crashes at every point, the snapshot ones included.
    UseChaos(c);
    c.snapshot_every = 8;
    c.snapshot_tail = 3;
    c.max_down_ticks = 100;
  } else if (name == "membership") {
    // Servers added, promoted and removed (leaders removing themselves included) over a
    // network that drops, duplicates, reorders and partitions.
    c.spares = 3;
    c.membership_change_rate = 0.08;
    c.fault_ticks = 400;
    UseChaoticNetwork(c);
    c.partition_change_rate = 0.03;
    c.asymmetric_partitions = true;
    c.transfer_rate = 0.01;
    c.proposal_rate = 0.6;
  } else if (name == "membership_crash") {
    // Changes with crashes at every point of the Ready contract: leaders crash in the middle
    // of a change, leaders that removed themselves crash before and after stepping down, and
    // nodes crash between saving the hard state and writing a log that drops a CONFIG entry.
    c.spares = 3;
    c.membership_change_rate = 0.1;
    c.self_removal_bias = 0.4;
    c.change_crash_rate = 0.08;
    c.fault_ticks = 400;
    c.crash_rate = 0.03;
    c.max_down = 1;
    c.crash_leader_bias = 0.5;
    c.crash_on_truncate_rate = 0.2;
    c.fault_network.drop_rate = 0.03;
    c.fault_network.duplicate_rate = 0.03;
    c.fault_network.max_delay = 20;
    c.proposal_rate = 0.6;
  } else if (name == "membership_snapshots") {
    // Changes with frequent snapshots: a new learner usually finds the log compacted past
    // what it needs and catches up by snapshot (which carries the membership), and CONFIG
    // entries are compacted into snapshots. Crashes strike around snapshots too.
    c.spares = 3;
    c.membership_change_rate = 0.08;
    c.change_crash_rate = 0.03;
    c.snapshot_every = 5;
    c.snapshot_tail = 1;
    c.fault_ticks = 400;
    c.proposal_rate = 0.8;
    c.crash_rate = 0.02;
    c.max_down = 1;
    c.min_down_ticks = 20;
    c.max_down_ticks = 80;
    c.partition_change_rate = 0.02;
    c.fault_network.drop_rate = 0.05;
    c.fault_network.duplicate_rate = 0.05;
    c.fault_network.max_delay = 20;
  } else {
    return absl::NotFoundError(absl::StrCat("unknown scenario '", name, "'"));
  }
  return c;
}

}  // namespace raft
}  // namespace resdb
