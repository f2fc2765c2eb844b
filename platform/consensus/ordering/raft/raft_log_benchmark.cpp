// RaftLog append throughput on LevelDB with sync on: each iteration appends one batch of
// entries as one synced WriteBatch, the group commit the RAFT leader and followers use.
//
//   bazel run -c opt //platform/consensus/ordering/raft:raft_log_benchmark
#include <stdlib.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "platform/consensus/ordering/raft/raft_log.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/prefix_allocator.h"

namespace resdb {
namespace raft {
namespace {

// A LevelDB database in a fresh directory under /tmp, removed afterwards.
class TempDatabase {
 public:
  TempDatabase() {
    char pattern[] = "/tmp/resdb_raft_log_benchmark_XXXXXX";
    dir_ = mkdtemp(pattern);
    db_ = std::move(OpenLevelDBStorage(dir_).value());
    view_ = std::move(allocator_.Allocate(db_.get(), kRaftLogPrefix, "raft log").value());
  }
  ~TempDatabase() {
    view_.reset();
    db_.reset();
    (void)!std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }
  Storage* log_storage() { return view_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<Storage> db_;
  PrefixAllocator allocator_;
  std::unique_ptr<Storage> view_;
};

// range(0): entries per synced append; range(1): payload bytes per entry.
void BM_RaftLogSyncedAppend(benchmark::State& state) {
  TempDatabase db;
  auto log = RaftLog::Open(db.log_storage(), /*sync=*/true).value();
  const int64_t batch_size = state.range(0);
  const std::string payload(state.range(1), 'x');
  uint64_t next_index = 1;
  int64_t bytes = 0;
  std::vector<Entry> batch(batch_size);
  for (auto _ : state) {
    for (Entry& entry : batch) {
      entry.set_term(1);
      entry.set_index(next_index++);
      entry.set_data(payload);
      bytes += entry.ByteSizeLong();
    }
    if (absl::Status status = log->Append(batch); !status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(next_index - 1));
  state.SetBytesProcessed(bytes);
  state.counters["fsyncs_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RaftLogSyncedAppend)
    ->ArgNames({"batch", "bytes"})
    ->Args({1, 256})
    ->Args({16, 256})
    ->Args({256, 256})
    ->UseRealTime();

}  // namespace
}  // namespace raft
}  // namespace resdb

BENCHMARK_MAIN();
