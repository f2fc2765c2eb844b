#include "platform/consensus/replica/apply_recorder.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "platform/storage/forwarding_storage.h"
#include "platform/storage/memory_storage.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/prefixed_storage.h"
#include "platform/storage/staged_storage.h"

namespace resdb {
namespace {

constexpr char kRecords[] = "proto_applied/";

// Keeps every write it passes on.
class RecordingStorage : public ForwardingStorage {
 public:
  using ForwardingStorage::ForwardingStorage;
  absl::Status Write(const WriteBatch& batch, bool sync) override {
    writes.push_back(batch);
    return ForwardingStorage::Write(batch, sync);
  }
  std::vector<WriteBatch> writes;
};

BatchUserResponse Responses(const std::string& answer) {
  BatchUserResponse responses;
  responses.add_responses(answer);
  return responses;
}

// A replica's database as kv_service lays it out: the service writes through a StagedStorage
// over the user data view.
struct Replica {
  explicit Replica(Storage* db)
      : storage(db), user_data(&storage, kUserDataPrefix), staged(&user_data) {}

  // Executes one write of client 7 as the executor would: the service's state, then the table.
  void Execute(ApplyRecorder* recorder, uint64_t request_id, const std::string& value) {
    ASSERT_TRUE(staged.Put("key", value).ok());
    recorder->table()->BeginBatch();
    recorder->table()->Record(7, request_id, "ok:" + value);
  }

  RecordingStorage storage;
  PrefixedStorage user_data;
  StagedStorage staged;
};

bool HasKeyWithPrefix(const WriteBatch& batch, const std::string& prefix) {
  for (const WriteBatch::Op& op : batch.ops()) {
    if (op.key.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

TEST(ApplyRecorderTest, OneWriteHoldsStateRecordsDigestAndIndex) {
  std::unique_ptr<Storage> db_owner = NewMemoryStorage();
  Storage& db = *db_owner;
  Replica replica(&db);
  ApplyRecorder recorder(&replica.storage, kRecords, &replica.staged);
  ASSERT_TRUE(recorder.Load().ok());
  replica.Execute(&recorder, 1, "v1");
  ASSERT_TRUE(replica.storage.writes.empty());

  recorder.Record(1, Responses("ok:v1"));

  ASSERT_EQ(replica.storage.writes.size(), 1u);
  const WriteBatch& write = replica.storage.writes[0];
  EXPECT_TRUE(HasKeyWithPrefix(write, std::string(kUserDataPrefix) + "key"));
  EXPECT_TRUE(HasKeyWithPrefix(write, std::string(kRecords) + "client_"));
  EXPECT_TRUE(HasKeyWithPrefix(write, std::string(kRecords) + StateDigest::kKey));
  EXPECT_TRUE(HasKeyWithPrefix(write, std::string(kRecords) + "applied_index"));
  EXPECT_EQ(recorder.applied_index(), 1u);
  EXPECT_EQ(recorder.Lookup(7, 1), "ok:v1");
  EXPECT_FALSE(recorder.state_digest().empty());
}

TEST(ApplyRecorderTest, ReopenRestoresTableDigestAndIndex) {
  std::unique_ptr<Storage> db_owner = NewMemoryStorage();
  Storage& db = *db_owner;
  std::string digest;
  {
    Replica replica(&db);
    ApplyRecorder recorder(&replica.storage, kRecords, &replica.staged);
    ASSERT_TRUE(recorder.Load().ok());
    replica.Execute(&recorder, 1, "v1");
    recorder.Record(1, Responses("ok:v1"));
    replica.Execute(&recorder, 2, "v2");
    recorder.Record(2, Responses("ok:v2"));
    digest = recorder.state_digest();
  }
  Replica replica(&db);
  ApplyRecorder reopened(&replica.storage, kRecords, &replica.staged);
  ASSERT_TRUE(reopened.Load().ok());
  EXPECT_EQ(reopened.applied_index(), 2u);
  EXPECT_EQ(reopened.state_digest(), digest);
  EXPECT_EQ(reopened.Lookup(7, 1), "ok:v1");
  EXPECT_EQ(reopened.Lookup(7, 2), "ok:v2");
  EXPECT_EQ(*replica.user_data.Get("key"), "v2");
}

TEST(ApplyRecorderTest, CrashBeforeTheWriteLeavesNoneOfThem) {
  std::unique_ptr<Storage> db_owner = NewMemoryStorage();
  Storage& db = *db_owner;
  std::string digest;
  {
    Replica replica(&db);
    ApplyRecorder recorder(&replica.storage, kRecords, &replica.staged);
    ASSERT_TRUE(recorder.Load().ok());
    replica.Execute(&recorder, 1, "v1");
    recorder.Record(1, Responses("ok:v1"));
    digest = recorder.state_digest();
    // Seq 2 executes; the process dies before Record.
    replica.Execute(&recorder, 2, "v2");
  }
  Replica replica(&db);
  ApplyRecorder reopened(&replica.storage, kRecords, &replica.staged);
  ASSERT_TRUE(reopened.Load().ok());
  EXPECT_EQ(reopened.applied_index(), 1u);
  EXPECT_EQ(reopened.state_digest(), digest);
  EXPECT_EQ(reopened.Lookup(7, 2), std::nullopt);
  EXPECT_EQ(*replica.user_data.Get("key"), "v1");
}

TEST(ApplyRecorderTest, WithoutStagedStateWritesTheRecordsAlone) {
  std::unique_ptr<Storage> db_owner = NewMemoryStorage();
  Storage& db = *db_owner;
  RecordingStorage storage(&db);
  ApplyRecorder recorder(&storage, kRecords, /*staged_state=*/nullptr);
  ASSERT_TRUE(recorder.Load().ok());
  recorder.table()->BeginBatch();
  recorder.table()->Record(7, 1, "ok");
  recorder.Record(1, Responses("ok"));
  ASSERT_EQ(storage.writes.size(), 1u);
  EXPECT_FALSE(HasKeyWithPrefix(storage.writes[0], std::string(kUserDataPrefix)));
  EXPECT_EQ(recorder.applied_index(), 1u);
}

TEST(ApplyRecorderTest, LoadAgainReadsWhatASnapshotInstalled) {
  std::unique_ptr<Storage> db_owner = NewMemoryStorage();
  Storage& db = *db_owner;
  ApplyRecorder source(&db, kRecords, nullptr);
  ASSERT_TRUE(source.Load().ok());
  source.table()->BeginBatch();
  source.table()->Record(7, 1, "ok");
  source.Record(5, Responses("ok"));

  std::unique_ptr<Storage> other_owner = NewMemoryStorage();
  Storage& other = *other_owner;
  ApplyRecorder recorder(&other, kRecords, nullptr);
  ASSERT_TRUE(recorder.Load().ok());
  EXPECT_EQ(recorder.applied_index(), 0u);
  // As an installed snapshot would: the records are replaced underneath.
  ASSERT_TRUE(db.Scan("", "", [&](absl::string_view key, absl::string_view value) {
                  return other.Put(key, value).ok();
                }).ok());
  ASSERT_TRUE(recorder.Load().ok());
  EXPECT_EQ(recorder.applied_index(), 5u);
  EXPECT_EQ(recorder.state_digest(), source.state_digest());
  EXPECT_EQ(recorder.Lookup(7, 1), "ok");
}

}  // namespace
}  // namespace resdb
