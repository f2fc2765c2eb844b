#include "platform/consensus/ordering/raft/raft_snapshot_manager.h"

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/common/crypto/signature.h"
#include "platform/consensus/ordering/raft/testing/restartable_storage.h"
#include "platform/storage/forwarding_storage.h"
#include "platform/storage/leveldb_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"

namespace resdb {
namespace raft {
namespace {

using ::testing::HasSubstr;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

constexpr uint64_t kChunkBytes = 1024;

// Forwards to another Storage; once `writes_left` writes have been made, every further write
// fails without effect, as if the process had crashed there.
class CrashingStorage : public ForwardingStorage {
 public:
  CrashingStorage(Storage* inner, int writes_left)
      : ForwardingStorage(inner), writes_left_(writes_left) {}

  absl::Status Write(const WriteBatch& batch, bool sync) override {
    if (writes_left_ == 0) return absl::UnavailableError("injected crash");
    --writes_left_;
    return ForwardingStorage::Write(batch, sync);
  }

 private:
  int writes_left_;
};

std::string MakeData(size_t size, char seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(seed + i * 7 + i / 251);
  return data;
}

SnapshotMetadata MakeMetadata(uint64_t index, uint64_t term) {
  SnapshotMetadata metadata;
  metadata.set_last_included_index(index);
  metadata.set_last_included_term(term);
  metadata.mutable_membership()->add_voters(1);
  metadata.mutable_membership()->add_voters(2);
  metadata.mutable_membership()->add_voters(3);
  return metadata;
}

// `MakeMetadata(index, term)` completed with the size and checksum of `data`.
SnapshotMetadata DescribeData(uint64_t index, uint64_t term, const std::string& data) {
  SnapshotMetadata metadata = MakeMetadata(index, term);
  metadata.set_size(data.size());
  metadata.set_checksum(Sha256(data));
  return metadata;
}

class RaftSnapshotManagerTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    OpenBase();
    for (const auto& [key, value] : Neighbours()) ASSERT_TRUE(base_->Put(key, value).ok());
  }

  void TearDown() override {
    if (base_ == nullptr) return;
    KeyValues outside;
    for (auto& [key, value] : base_->GetRange("", "\xff").value_or(KeyValues{})) {
      if (!absl::StartsWith(key, kRaftSnapshotPrefix)) outside.emplace_back(key, value);
    }
    EXPECT_EQ(outside, Neighbours());
  }

  // Keys of other owners, including ones right next to the snapshot prefix, in ascending order.
  static KeyValues Neighbours() {
    return {{"pbft_checkpoint", "p"},           {"raft_log_m", "log"},
            {"raft_snapshot", "below"},         {"raft_snapshot`", "above"},
            {"raft_state_hard_state", "state"}, {"user_key", "u"}};
  }

  void OpenBase() {
    ASSERT_TRUE(storage_.Open().ok());
    base_ = storage_.base();
    view_ = storage_.view();
  }

  std::unique_ptr<RaftSnapshotManager> OpenManager(Storage* storage = nullptr) {
    absl::StatusOr<std::unique_ptr<RaftSnapshotManager>> manager =
        RaftSnapshotManager::Open(storage != nullptr ? storage : view_, kChunkBytes);
    EXPECT_TRUE(manager.ok()) << manager.status();
    return manager.ok() ? *std::move(manager) : nullptr;
  }

  // Drops `manager` and, for LevelDB, closes and reopens the database; returns a manager
  // reopened on the same storage.
  std::unique_ptr<RaftSnapshotManager> Restart(std::unique_ptr<RaftSnapshotManager> manager) {
    manager.reset();
    storage_.Close();
    OpenBase();
    return OpenManager();
  }

  KeyValues ViewKeys() { return view_->GetRange("", "").value_or(KeyValues{}); }

  RestartableStorage storage_{GetParam(), std::string(kRaftSnapshotPrefix), "raft snapshots"};
  Storage* base_ = nullptr;
  Storage* view_ = nullptr;
};

// Sends the current snapshot of `from` to `to` in chunks of `chunk` bytes from `offset`.
absl::Status Transfer(const RaftSnapshotManager& from, RaftSnapshotManager& to, uint64_t offset,
                      uint64_t chunk) {
  while (true) {
    absl::StatusOr<SnapshotChunk> piece = from.ReadChunk(offset, chunk);
    if (!piece.ok()) return piece.status();
    absl::StatusOr<uint64_t> received = to.WriteChunk(*piece);
    if (!received.ok()) return received.status();
    offset = *received;
    if (piece->done()) return absl::OkStatus();
  }
}

// Counts the keys of the view by slot ("a", "b") and "active".
std::map<std::string, int> KeysPerSlot(const KeyValues& keys) {
  std::map<std::string, int> per_slot;
  for (const auto& [key, value] : keys) per_slot[key == "active" ? key : key.substr(0, 1)]++;
  return per_slot;
}

TEST_P(RaftSnapshotManagerTest, NoSnapshotInitially) {
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  EXPECT_FALSE(manager->Current().has_value());
  EXPECT_FALSE(manager->Incoming().has_value());
  EXPECT_EQ(manager->IncomingOffset(), 0u);
  EXPECT_TRUE(absl::IsNotFound(manager->ReadAll().status()));
  EXPECT_TRUE(absl::IsNotFound(manager->ReadChunk(0, 10).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(manager->FinishIncoming()));
  SnapshotChunk chunk;
  EXPECT_TRUE(absl::IsFailedPrecondition(manager->WriteChunk(chunk).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(RaftSnapshotManager::Open(view_, 0).status()));
}

TEST_P(RaftSnapshotManagerTest, SaveAndReadInChunks) {
  const std::string data = MakeData(10000, 'a');
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  SnapshotMetadata given = MakeMetadata(50, 3);
  given.set_size(1);  // Replaced by Save.
  ASSERT_TRUE(manager->Save(given, data).ok());

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "before restart" : "after restart");
    std::optional<SnapshotMetadata> current = manager->Current();
    ASSERT_TRUE(current.has_value());
    EXPECT_EQ(current->SerializeAsString(), DescribeData(50, 3, data).SerializeAsString());

    std::string assembled;
    uint64_t offset = 0;
    int chunks = 0;
    while (true) {
      absl::StatusOr<SnapshotChunk> chunk = manager->ReadChunk(offset, 3000);
      ASSERT_TRUE(chunk.ok()) << chunk.status();
      EXPECT_EQ(chunk->offset(), offset);
      assembled += chunk->data();
      offset += chunk->data().size();
      ++chunks;
      EXPECT_EQ(chunk->done(), offset == data.size());
      if (chunk->done()) break;
      ASSERT_EQ(chunk->data().size(), 3000u);
    }
    EXPECT_EQ(chunks, 4);
    EXPECT_EQ(assembled, data);
    EXPECT_EQ(manager->ReadAll().value_or(""), data);

    absl::StatusOr<SnapshotChunk> end = manager->ReadChunk(data.size(), 10);
    ASSERT_TRUE(end.ok()) << end.status();
    EXPECT_TRUE(end->data().empty());
    EXPECT_TRUE(end->done());
    EXPECT_TRUE(absl::IsOutOfRange(manager->ReadChunk(data.size() + 1, 10).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(manager->ReadChunk(0, 0).status()));
    manager = Restart(std::move(manager));
  }
}

TEST_P(RaftSnapshotManagerTest, EmptySnapshot) {
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  ASSERT_TRUE(manager->Save(MakeMetadata(1, 1), "").ok());
  manager = Restart(std::move(manager));
  ASSERT_TRUE(manager->Current().has_value());
  EXPECT_EQ(manager->Current()->size(), 0u);
  EXPECT_EQ(manager->ReadAll().value_or("x"), "");
  absl::StatusOr<SnapshotChunk> chunk = manager->ReadChunk(0, 10);
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_TRUE(chunk->done());
}

TEST_P(RaftSnapshotManagerTest, ReceiveInChunksRejectsWrongOffsets) {
  std::unique_ptr<Storage> leader_storage = NewMemoryStorage();
  std::unique_ptr<RaftSnapshotManager> leader = OpenManager(leader_storage.get());
  const std::string data = MakeData(5000, 'q');
  ASSERT_TRUE(leader->Save(MakeMetadata(90, 6), data).ok());

  std::unique_ptr<RaftSnapshotManager> follower = OpenManager();
  ASSERT_TRUE(follower->BeginIncoming(*leader->Current()).ok());
  ASSERT_EQ(follower->Incoming()->SerializeAsString(), leader->Current()->SerializeAsString());

  absl::StatusOr<SnapshotChunk> first = leader->ReadChunk(0, 700);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(follower->WriteChunk(*first).value_or(0), 700u);

  absl::StatusOr<SnapshotChunk> skipped = leader->ReadChunk(1400, 700);
  ASSERT_TRUE(skipped.ok());
  absl::Status ahead = follower->WriteChunk(*skipped).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(ahead)) << ahead;
  EXPECT_THAT(ahead.message(), HasSubstr("expected offset 700"));
  absl::Status repeated = follower->WriteChunk(*first).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(repeated)) << repeated;
  EXPECT_THAT(repeated.message(), HasSubstr("expected offset 700"));
  EXPECT_EQ(follower->IncomingOffset(), 700u);

  SnapshotChunk too_long;
  too_long.set_offset(700);
  too_long.set_data(std::string(data.size(), 'x'));
  EXPECT_TRUE(absl::IsInvalidArgument(follower->WriteChunk(too_long).status()));

  absl::Status early = follower->FinishIncoming();
  EXPECT_TRUE(absl::IsFailedPrecondition(early)) << early;
  EXPECT_EQ(follower->IncomingOffset(), 700u);

  ASSERT_TRUE(Transfer(*leader, *follower, follower->IncomingOffset(), 700).ok());
  EXPECT_EQ(follower->IncomingOffset(), data.size());
  ASSERT_TRUE(follower->FinishIncoming().ok());
  EXPECT_FALSE(follower->Incoming().has_value());
  ASSERT_TRUE(follower->Current().has_value());
  EXPECT_EQ(follower->Current()->SerializeAsString(), leader->Current()->SerializeAsString());
  EXPECT_EQ(follower->ReadAll().value_or(""), data);

  follower = Restart(std::move(follower));
  EXPECT_EQ(follower->ReadAll().value_or(""), data);
}

TEST_P(RaftSnapshotManagerTest, BeginIncomingNeedsChecksum) {
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  SnapshotMetadata metadata = MakeMetadata(3, 1);
  metadata.set_size(10);
  EXPECT_TRUE(absl::IsInvalidArgument(manager->BeginIncoming(metadata)));
  EXPECT_FALSE(manager->Incoming().has_value());
}

TEST_P(RaftSnapshotManagerTest, ResumeAfterReopen) {
  const std::string data = MakeData(6000, 'r');
  const SnapshotMetadata metadata = DescribeData(200, 9, data);
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  ASSERT_TRUE(manager->BeginIncoming(metadata).ok());
  SnapshotChunk chunk;
  chunk.set_offset(0);
  chunk.set_data(data.substr(0, 2500));
  ASSERT_EQ(manager->WriteChunk(chunk).value_or(0), 2500u);

  manager = Restart(std::move(manager));
  EXPECT_EQ(manager->IncomingOffset(), 2500u);
  ASSERT_TRUE(manager->BeginIncoming(metadata).ok());  // Same metadata: resumes.
  EXPECT_EQ(manager->IncomingOffset(), 2500u);
  chunk.set_offset(2500);
  chunk.set_data(data.substr(2500));
  ASSERT_EQ(manager->WriteChunk(chunk).value_or(0), data.size());
  ASSERT_TRUE(manager->FinishIncoming().ok());
  EXPECT_EQ(manager->ReadAll().value_or(""), data);

  // Different metadata starts over.
  const std::string other = MakeData(3000, 's');
  ASSERT_TRUE(manager->BeginIncoming(DescribeData(300, 9, other)).ok());
  chunk.set_offset(0);
  chunk.set_data(other.substr(0, 100));
  ASSERT_TRUE(manager->WriteChunk(chunk).ok());
  ASSERT_TRUE(manager->BeginIncoming(DescribeData(301, 9, other)).ok());
  EXPECT_EQ(manager->IncomingOffset(), 0u);
  manager->AbortIncoming();
  EXPECT_FALSE(manager->Incoming().has_value());
  manager = Restart(std::move(manager));
  EXPECT_FALSE(manager->Incoming().has_value());
  EXPECT_EQ(manager->ReadAll().value_or(""), data);
}

TEST_P(RaftSnapshotManagerTest, ChunkSizeMayChangeAcrossReopen) {
  const std::string data = MakeData(5000, 'k');
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  ASSERT_TRUE(manager->Save(MakeMetadata(5, 1), data).ok());
  const std::string incoming = MakeData(2000, 'i');
  ASSERT_TRUE(manager->BeginIncoming(DescribeData(9, 2, incoming)).ok());
  SnapshotChunk chunk;
  chunk.set_data(incoming.substr(0, 1500));
  ASSERT_TRUE(manager->WriteChunk(chunk).ok());
  manager.reset();

  absl::StatusOr<std::unique_ptr<RaftSnapshotManager>> small =
      RaftSnapshotManager::Open(view_, 100);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ((*small)->ReadAll().value_or(""), data);
  absl::StatusOr<SnapshotChunk> piece = (*small)->ReadChunk(1000, 100);
  ASSERT_TRUE(piece.ok()) << piece.status();
  EXPECT_EQ(piece->data(), data.substr(1000, 100));
  EXPECT_EQ((*small)->IncomingOffset(), 1500u);
  chunk.set_offset(1500);
  chunk.set_data(incoming.substr(1500));
  ASSERT_TRUE((*small)->WriteChunk(chunk).ok());
  ASSERT_TRUE((*small)->FinishIncoming().ok());
  EXPECT_EQ((*small)->ReadAll().value_or(""), incoming);

  // A new snapshot uses the new chunk size: a record per slot is gone but the active one's,
  // and 5000 bytes in 100-byte chunks.
  ASSERT_TRUE((*small)->Save(MakeMetadata(12, 2), data).ok());
  EXPECT_EQ((*small)->ReadAll().value_or(""), data);
  std::map<std::string, int> per_slot = KeysPerSlot(ViewKeys());
  EXPECT_EQ(per_slot["a"] + per_slot["b"], 1 + 50);
}

TEST_P(RaftSnapshotManagerTest, ChecksumMismatchIsDiscardedAndOldKept) {
  const std::string old_data = MakeData(3000, 'o');
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  ASSERT_TRUE(manager->Save(MakeMetadata(10, 2), old_data).ok());
  const KeyValues before = ViewKeys();

  const std::string data = MakeData(4000, 'n');
  SnapshotMetadata metadata = DescribeData(20, 3, data);
  metadata.set_checksum(Sha256("something else"));
  ASSERT_TRUE(manager->BeginIncoming(metadata).ok());
  SnapshotChunk chunk;
  chunk.set_data(data);
  ASSERT_TRUE(manager->WriteChunk(chunk).ok());
  absl::Status status = manager->FinishIncoming();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("SHA-256"));

  EXPECT_FALSE(manager->Incoming().has_value());
  EXPECT_EQ(manager->IncomingOffset(), 0u);
  EXPECT_EQ(manager->Current()->last_included_index(), 10u);
  EXPECT_EQ(manager->ReadAll().value_or(""), old_data);
  EXPECT_EQ(ViewKeys(), before);
  manager = Restart(std::move(manager));
  EXPECT_EQ(manager->ReadAll().value_or(""), old_data);
}

TEST_P(RaftSnapshotManagerTest, CrashMidReceiveLeavesOldIntact) {
  const std::string old_data = MakeData(2000, 'o');
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  ASSERT_TRUE(manager->Save(MakeMetadata(10, 2), old_data).ok());
  manager.reset();

  const std::string data = MakeData(5000, 'n');
  CrashingStorage crashing(view_, /*writes_left=*/3);
  manager = OpenManager(&crashing);
  ASSERT_TRUE(manager->BeginIncoming(DescribeData(30, 4, data)).ok());
  uint64_t offset = 0;
  while (true) {
    SnapshotChunk chunk;
    chunk.set_offset(offset);
    chunk.set_data(data.substr(offset, 900));
    absl::StatusOr<uint64_t> received = manager->WriteChunk(chunk);
    if (!received.ok()) break;
    offset = *received;
  }
  EXPECT_EQ(offset, 1800u);

  manager = Restart(std::move(manager));
  EXPECT_EQ(manager->Current()->last_included_index(), 10u);
  EXPECT_EQ(manager->ReadAll().value_or(""), old_data);
  EXPECT_EQ(manager->IncomingOffset(), 1800u);
  ASSERT_TRUE(manager->BeginIncoming(DescribeData(30, 4, data)).ok());
  SnapshotChunk rest;
  rest.set_offset(1800);
  rest.set_data(data.substr(1800));
  ASSERT_TRUE(manager->WriteChunk(rest).ok());
  ASSERT_TRUE(manager->FinishIncoming().ok());
  EXPECT_EQ(manager->ReadAll().value_or(""), data);
}

// Lets Save and FinishIncoming run for 0, 1, 2, ... writes before a crash: after reopening,
// the current snapshot is always the old one or the new one, intact.
TEST_P(RaftSnapshotManagerTest, CrashAtAnyWriteLeavesOldOrNewSnapshot) {
  const std::string old_data = MakeData(2500, 'o');
  const std::string new_data = MakeData(3500, 'n');
  for (bool receive : {false, true}) {
    bool finished = false;
    for (int writes = 0; !finished; ++writes) {
      SCOPED_TRACE(testing::Message()
                   << (receive ? "receive" : "save") << ", crash after " << writes << " writes");
      std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
      ASSERT_TRUE(manager->Save(MakeMetadata(10, 2), old_data).ok());
      manager.reset();

      CrashingStorage crashing(view_, writes);
      manager = OpenManager(&crashing);
      absl::Status status;
      if (receive) {
        status = manager->BeginIncoming(DescribeData(20, 3, new_data));
        for (uint64_t offset = 0; status.ok() && offset < new_data.size(); offset += 1000) {
          SnapshotChunk chunk;
          chunk.set_offset(offset);
          chunk.set_data(new_data.substr(offset, 1000));
          status = manager->WriteChunk(chunk).status();
        }
        if (status.ok()) status = manager->FinishIncoming();
      } else {
        status = manager->Save(MakeMetadata(20, 3), new_data);
      }
      finished = status.ok();

      manager = Restart(std::move(manager));
      ASSERT_NE(manager, nullptr);
      ASSERT_TRUE(manager->Current().has_value());
      const bool is_new = manager->Current()->last_included_index() == 20;
      EXPECT_EQ(manager->ReadAll().value_or(""), is_new ? new_data : old_data);
      EXPECT_EQ(is_new, finished);
      ASSERT_LT(writes, 100);
    }
  }
}

TEST_P(RaftSnapshotManagerTest, OnlyTwoSlotsExist) {
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  // Shrinking snapshots: chunks of an older, larger snapshot would outlive a newer one if a
  // slot were not cleared completely.
  std::string last;
  for (int i = 4; i >= 1; --i) {
    last = MakeData(1000 * i + 10, static_cast<char>('a' + i));
    ASSERT_TRUE(manager->Save(MakeMetadata(50 - 10 * i, 5 - i), last).ok());
  }
  const std::string incoming = MakeData(3000, 'z');
  ASSERT_TRUE(manager->BeginIncoming(DescribeData(100, 9, incoming)).ok());
  SnapshotChunk chunk;
  chunk.set_data(incoming.substr(0, 2100));
  ASSERT_TRUE(manager->WriteChunk(chunk).ok());

  // "active"; per slot its record; 1 chunk of the current snapshot, 3 of the incoming one.
  std::map<std::string, int> per_slot = KeysPerSlot(ViewKeys());
  EXPECT_EQ(per_slot.size(), 3u);
  EXPECT_EQ(per_slot["active"], 1);
  EXPECT_EQ(per_slot["a"] + per_slot["b"], 2 + 1 + 3);
  EXPECT_EQ(manager->ReadAll().value_or(""), last);

  manager->AbortIncoming();
  per_slot = KeysPerSlot(ViewKeys());
  EXPECT_EQ(per_slot.size(), 2u);
  EXPECT_EQ(per_slot["a"] + per_slot["b"], 1 + 1);
  EXPECT_EQ(manager->ReadAll().value_or(""), last);
}

TEST_P(RaftSnapshotManagerTest, CorruptRecordsAreDataLoss) {
  std::unique_ptr<RaftSnapshotManager> manager = OpenManager();
  ASSERT_TRUE(manager->Save(MakeMetadata(10, 2), MakeData(3000, 'c')).ok());
  const std::string active = manager->Current() ? view_->Get("active").value_or("") : "";
  manager.reset();
  ASSERT_FALSE(active.empty());
  const std::string slot = active.substr(0, 1);
  const std::string record_key = slot + "_meta";

  ASSERT_TRUE(view_->Put("active", "zzzzz").ok());
  absl::Status status = RaftSnapshotManager::Open(view_, kChunkBytes).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"active\""));
  ASSERT_TRUE(view_->Put("active", active).ok());

  const std::string good = view_->Get(record_key).value_or("");
  ASSERT_TRUE(view_->Put(record_key, good.substr(1)).ok());
  status = RaftSnapshotManager::Open(view_, kChunkBytes).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"" + record_key + "\""));
  ASSERT_TRUE(view_->Put(record_key, good).ok());

  manager = OpenManager();
  ASSERT_TRUE(view_->Delete(slot + std::string("\0\0\0\0\0\0\x04\0", 8)).ok());
  status = manager->ReadAll().status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\\x04\\x00\""));
}

INSTANTIATE_TEST_SUITE_P(Backends, RaftSnapshotManagerTest,
                         testing::Values(Backend::kMemory, Backend::kLevelDB),
                         [](const testing::TestParamInfo<Backend>& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace raft
}  // namespace resdb
