// Snapshot chunks come from the leader over the network and are stored as they arrive, so
// RaftSnapshotManager meets hostile input twice: the InstallSnapshot messages themselves and,
// after a restart, the partial snapshot they left on disk. Neither may crash it, and a
// snapshot it reports as installed must read back whole.
//
// Input: the stored records (see FillStoredRecords: "active", "a_meta", "b_meta", and the
// chunk keys "a"/"b" + offset), a chunk size byte, then operations:
//   0  BeginIncoming(SnapshotMetadata parsed from TakeBytes())
//   1  WriteChunk(SnapshotChunk parsed from TakeBytes())
//   2  FinishIncoming()
//   3  ReadChunk(TakeUint64(), 1 + byte)
//   4  ReadAll()
//   5  AbortIncoming()
//   6  Save(SnapshotMetadata parsed from TakeBytes(), TakeBytes())
//   7  an InstallSnapshotRequest (TakeBytes()) handled as ConsensusManagerRaft handles it

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_snapshot_manager.h"
#include "platform/storage/fuzz/stored_records.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace raft {
namespace {

void CheckInstalled(RaftSnapshotManager* snapshots) {
  absl::StatusOr<std::string> all = snapshots->ReadAll();
  if (!all.ok()) {
    std::fprintf(stderr, "raft_snapshot_chunk_fuzzer: installed snapshot unreadable: %s\n",
                 all.status().ToString().c_str());
    std::abort();
  }
}

// The follower's side of ConsensusManagerRaft::HandleInstallSnapshotRequest.
void Receive(RaftSnapshotManager* snapshots, const InstallSnapshotRequest& request) {
  const std::optional<SnapshotMetadata> incoming = snapshots->Incoming();
  if (!incoming.has_value() ||
      incoming->SerializeAsString() != request.metadata().SerializeAsString()) {
    if (!snapshots->BeginIncoming(request.metadata()).ok()) return;
  }
  absl::StatusOr<uint64_t> received = snapshots->WriteChunk(request.chunk());
  if (!received.ok()) {
    if (!absl::IsFailedPrecondition(received.status())) snapshots->AbortIncoming();
    return;
  }
  if (*received < request.metadata().size()) return;
  if (snapshots->FinishIncoming().ok()) CheckInstalled(snapshots);
}

void Run(fuzz::FuzzInput* input) {
  std::unique_ptr<Storage> storage = NewMemoryStorage();
  FillStoredRecords(input, {"active", "a_meta", "b_meta", "a", "b"}, storage.get());
  absl::StatusOr<std::unique_ptr<RaftSnapshotManager>> opened =
      RaftSnapshotManager::Open(storage.get(), 1 + input->TakeByte());
  if (!opened.ok()) return;
  RaftSnapshotManager* snapshots = opened->get();
  while (!input->empty()) {
    switch (input->TakeByte() % 8) {
      case 0: {
        SnapshotMetadata metadata;
        if (metadata.ParseFromString(input->TakeBytes())) {
          snapshots->BeginIncoming(metadata).IgnoreError();
        }
        break;
      }
      case 1: {
        SnapshotChunk chunk;
        if (chunk.ParseFromString(input->TakeBytes())) snapshots->WriteChunk(chunk).IgnoreError();
        break;
      }
      case 2:
        if (snapshots->FinishIncoming().ok()) CheckInstalled(snapshots);
        break;
      case 3: {
        const uint64_t offset = input->TakeUint64();
        snapshots->ReadChunk(offset, 1 + input->TakeByte()).IgnoreError();
        break;
      }
      case 4:
        snapshots->ReadAll().IgnoreError();
        break;
      case 5:
        snapshots->AbortIncoming();
        break;
      case 6: {
        SnapshotMetadata metadata;
        const bool parsed = metadata.ParseFromString(input->TakeBytes());
        const std::string data = input->TakeBytes();
        if (parsed && snapshots->Save(metadata, data).ok()) CheckInstalled(snapshots);
        break;
      }
      case 7: {
        InstallSnapshotRequest request;
        if (request.ParseFromString(input->TakeBytes())) Receive(snapshots, request);
        break;
      }
    }
  }
}

}  // namespace
}  // namespace raft
}  // namespace resdb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdb::fuzz::FuzzInput input(data, size);
  resdb::raft::Run(&input);
  return 0;
}
