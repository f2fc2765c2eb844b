// Figures for the storage backends: raw puts and gets, and the cost of a synced write as a
// function of how many entries share it (the group commit RAFT's log relies on).
//
//   bazel run -c opt //platform/storage:storage_benchmark -- --benchmark_min_time=0.5
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace {

std::string Key(int64_t i) { return absl::StrCat("key", 1000000000 + i); }

// A LevelDB database in a fresh directory, removed afterwards.
class TempLevelDB {
 public:
  TempLevelDB() {
    char pattern[] = "/tmp/resdb_storage_benchmark_XXXXXX";
    dir_ = mkdtemp(pattern);
    storage_ = std::move(OpenLevelDBStorage(dir_).value());
  }
  ~TempLevelDB() {
    storage_.reset();
    (void)!std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }
  Storage* get() { return storage_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<Storage> storage_;
};

void BM_MemoryPut(benchmark::State& state) {
  auto storage = NewMemoryStorage();
  const std::string value(state.range(0), 'v');
  int64_t i = 0;
  for (auto _ : state) (void)storage->Put(Key(i++), value);
  state.SetItemsProcessed(i);
}
BENCHMARK(BM_MemoryPut)->Arg(256);

void BM_LevelDBPut(benchmark::State& state) {
  TempLevelDB db;
  const std::string value(state.range(0), 'v');
  int64_t i = 0;
  for (auto _ : state) (void)db.get()->Put(Key(i++), value);
  state.SetItemsProcessed(i);
}
BENCHMARK(BM_LevelDBPut)->Arg(256);

void BM_LevelDBGet(benchmark::State& state) {
  TempLevelDB db;
  const std::string value(256, 'v');
  constexpr int kKeys = 100000;
  for (int i = 0; i < kKeys; ++i) (void)db.get()->Put(Key(i), value);
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(db.get()->Get(Key(i++ % kKeys)));
  state.SetItemsProcessed(i);
}
BENCHMARK(BM_LevelDBGet);

// One synced WriteBatch of `range(0)` 256-byte entries per iteration: items/s shows how much
// batching amortises the fsync.
void BM_LevelDBSyncedBatch(benchmark::State& state) {
  TempLevelDB db;
  const std::string value(256, 'v');
  int64_t i = 0;
  for (auto _ : state) {
    WriteBatch batch;
    for (int64_t n = 0; n < state.range(0); ++n) batch.Put(Key(i++), value);
    (void)db.get()->Write(batch, /*sync=*/true);
  }
  state.SetItemsProcessed(i);
}
BENCHMARK(BM_LevelDBSyncedBatch)->Arg(1)->Arg(16)->Arg(128)->UseRealTime();

}  // namespace
}  // namespace resdb

BENCHMARK_MAIN();
