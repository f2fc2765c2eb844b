// A PBFT replica restarts from its write-ahead log: PbftWal reads the records back and
// PbftReplica::Restore resumes from them, as ConsensusManagerPbft does. A damaged or forged
// log must make Open fail with an error or restore a replica that runs on without crashing;
// a ledger that opens must answer reads within its bounds and take the next batch.
//
// Input: the stored records (see FillStoredRecords: "meta", "view", "stable", and
// "slot/" / "ledger/" + seq), the replica's id byte, then the ledger seqs to read.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/pbft/pbft_wal.h"
#include "platform/storage/fuzz/stored_records.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace pbft {
namespace {

// What the replica restored from the log does first: ask its peers, time out, change view.
void RunRestoredReplica(const RestoredState& restored, int64_t id) {
  PbftReplicaOptions options;
  options.checkpoint_interval = 2;
  options.watermark_window = 8;
  options.view_change_timeout_ticks = 2;
  options.retransmit_ticks = 1;
  PbftReplica replica(id, 4, options);
  replica.Restore(restored);
  uint64_t executed = replica.last_executable_seq();
  for (int tick = 0; tick < 8; ++tick) {
    replica.Tick(/*requests_waiting=*/true);
    for (const auto& [seq, data] : replica.TakeActions().execute) {
      if (seq != executed + 1) {
        std::fprintf(stderr, "pbft_wal_fuzzer: released seq %llu after %llu\n",
                     static_cast<unsigned long long>(seq),
                     static_cast<unsigned long long>(executed));
        std::abort();
      }
      executed = seq;
      replica.OnExecuted(seq, "digest");
    }
  }
}

void Run(fuzz::FuzzInput* input) {
  std::unique_ptr<Storage> storage = NewMemoryStorage();
  FillStoredRecords(input, {"meta", "view", "stable", "slot/", "ledger/"}, storage.get());
  absl::StatusOr<std::unique_ptr<PbftWal>> opened = PbftWal::Open(storage.get(), false);
  if (!opened.ok()) return;
  PbftWal& wal = **opened;
  RunRestoredReplica(wal.restored(), 1 + input->TakeByte() % 4);

  const uint64_t first = wal.first_ledger_seq();
  const uint64_t last = wal.last_committed();
  wal.ReadLedger(first, 8, 1 << 20).IgnoreError();
  for (int reads = input->TakeByte() % 4; reads > 0; --reads) {
    wal.ReadBatch(input->TakeUint64()).IgnoreError();
  }
  if (last < UINT64_MAX) {
    wal.Write(std::nullopt, {}, std::nullopt, {{last + 1, "batch"}}).IgnoreError();
  }
  // Bounded: a forged ledger may claim far more seqs than it holds.
  wal.TrimLedgerBefore(std::min(wal.last_committed(), first + 64)).IgnoreError();
}

}  // namespace
}  // namespace pbft
}  // namespace resdb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdb::fuzz::FuzzInput input(data, size);
  resdb::pbft::Run(&input);
  return 0;
}
