// A RAFT replica reads its HardState, snapshot metadata and log back from disk at restart. A
// damaged or forged disk must make Open fail with an error, never crash; and a log that opens
// must answer every read within its bounds with an entry or an error, and accept the next
// append.
//
// Input: the stored records (see FillStoredRecords), the RaftPersistentState view's key
// "hard_state" and the RaftLog view's "m" and "e"+index, then the indexes to read.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_log.h"
#include "platform/consensus/ordering/raft/raft_persistent_state.h"
#include "platform/storage/fuzz/stored_records.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace raft {
namespace {

void ExercisePersistentState(Storage* storage) {
  absl::StatusOr<std::unique_ptr<RaftPersistentState>> state = RaftPersistentState::Open(storage);
  if (!state.ok()) return;
  const uint64_t term = (*state)->current_term();
  // The next term's vote must be recordable whatever was stored.
  if (term < UINT64_MAX && !(*state)->SetTermAndVote(term + 1, 2).ok()) {
    std::fprintf(stderr, "raft_storage_fuzzer: cannot vote in the term after %llu\n",
                 static_cast<unsigned long long>(term));
    std::abort();
  }
}

void ExerciseLog(Storage* storage, fuzz::FuzzInput* input) {
  absl::StatusOr<std::unique_ptr<RaftLog>> opened = RaftLog::Open(storage);
  if (!opened.ok()) return;
  RaftLog& log = **opened;
  const uint64_t first = log.FirstIndex();
  const uint64_t last = log.LastLogIndex();
  if (first > last + 1) {
    std::fprintf(stderr, "raft_storage_fuzzer: opened log has first %llu > last %llu + 1\n",
                 static_cast<unsigned long long>(first), static_cast<unsigned long long>(last));
    std::abort();
  }
  log.Term(first - 1).IgnoreError();
  log.Term(last).IgnoreError();
  log.Entries(first, std::min(last, first + 16) + 1, 1 << 20).IgnoreError();
  for (int reads = input->TakeByte() % 8; reads > 0; --reads) {
    const uint64_t index = input->TakeUint64();
    log.Term(index).IgnoreError();
    if (index >= first && index <= last) log.Entries(index, index + 1, 1 << 20).IgnoreError();
  }
  if (last < UINT64_MAX) {
    Entry next;
    next.set_index(last + 1);
    next.set_term(log.LastLogTerm());
    log.Append({next}).IgnoreError();
  }
  log.CommitTo(log.LastLogIndex()).IgnoreError();
  log.Truncate(log.LastLogIndex()).IgnoreError();
}

}  // namespace
}  // namespace raft
}  // namespace resdb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdb::fuzz::FuzzInput input(data, size);
  std::unique_ptr<resdb::Storage> state = resdb::NewMemoryStorage();
  std::unique_ptr<resdb::Storage> log = resdb::NewMemoryStorage();
  resdb::FillStoredRecords(&input, {"hard_state"}, state.get());
  resdb::FillStoredRecords(&input, {"m", "e"}, log.get());
  resdb::raft::ExercisePersistentState(state.get());
  resdb::raft::ExerciseLog(log.get(), &input);
  return 0;
}
