// The applied-request table and the state digest are read from disk at restart and arrive
// inside snapshots from the leader. Any stored bytes must load or be refused with an error;
// what the table flushes must load again with the same answers, and the digest must read
// back as written.
//
// Input: the stored records (see FillStoredRecords: "applied_index", "client_" + 8-byte
// client id, "state_digest"), then operations:
//   0  BeginBatch()
//   1  Record(client byte % 4, request byte, TakeBytes())
//   2  Flush, write, and reload into a new table
//   3  Lookup(client byte % 4, request byte)

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/consensus/execution/applied_request_table.h"
#include "platform/consensus/execution/state_digest.h"
#include "platform/proto/resdb.pb.h"
#include "platform/storage/fuzz/stored_records.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace {

void Fail(const std::string& what) {
  std::fprintf(stderr, "applied_state_fuzzer: %s\n", what.c_str());
  std::abort();
}

// Per-client retention is 2 requests and at most 3 clients, so that eviction runs.
AppliedRequestTable NewTable() { return AppliedRequestTable(2, 3); }

void ExerciseTable(Storage* storage, fuzz::FuzzInput* input) {
  AppliedRequestTable table = NewTable();
  if (!table.Load(storage).ok()) return;
  uint64_t applied = table.applied_index();
  std::set<std::pair<uint64_t, uint64_t>> recorded;
  while (!input->empty()) {
    switch (input->TakeByte() % 4) {
      case 0:
        table.BeginBatch();
        break;
      case 1: {
        const uint64_t client = input->TakeByte() % 4;
        const uint64_t request = input->TakeByte();
        table.Record(client, request, input->TakeBytes());
        recorded.emplace(client, request);
        break;
      }
      case 2: {
        WriteBatch batch;
        table.Flush(++applied, &batch);
        if (!storage->Write(batch, false).ok()) Fail("memory storage refused a write");
        AppliedRequestTable reloaded = NewTable();
        absl::Status loaded = reloaded.Load(storage);
        if (!loaded.ok()) Fail("the table does not load what it flushed: " + loaded.ToString());
        for (const auto& [client, request] : recorded) {
          if (table.Lookup(client, request) != reloaded.Lookup(client, request)) {
            Fail("a reloaded table answers differently");
          }
        }
        break;
      }
      case 3: {
        const uint64_t client = input->TakeByte() % 4;
        table.Lookup(client, input->TakeByte());
        break;
      }
    }
  }
}

void ExerciseDigest(Storage* storage) {
  StateDigest digest;
  if (!digest.Load(storage).ok()) return;
  BatchUserResponse response;
  response.add_responses(digest.value());
  WriteBatch batch;
  digest.Extend(response, &batch);
  if (!storage->Write(batch, false).ok()) Fail("memory storage refused a write");
  StateDigest reloaded;
  if (!reloaded.Load(storage).ok() || reloaded.value() != digest.value()) {
    Fail("the state digest does not read back as written");
  }
}

}  // namespace
}  // namespace resdb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdb::fuzz::FuzzInput input(data, size);
  std::unique_ptr<resdb::Storage> storage = resdb::NewMemoryStorage();
  resdb::FillStoredRecords(&input, {"applied_index", "client_", "state_digest"}, storage.get());
  resdb::ExerciseDigest(storage.get());
  resdb::ExerciseTable(storage.get(), &input);
  return 0;
}
