#include "platform/storage/leveldb_storage.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/filter_policy.h"
#include "leveldb/write_batch.h"

namespace resdb {
namespace {

leveldb::Slice ToSlice(absl::string_view s) { return leveldb::Slice(s.data(), s.size()); }

absl::string_view ToView(const leveldb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// Maps a failed LevelDB status to an absl::Status whose message starts with `context`.
absl::Status FromLevelDB(const leveldb::Status& status, absl::string_view context) {
  std::string message = absl::StrCat(context, ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (status.IsNotSupportedError()) return absl::UnimplementedError(message);
  return absl::InternalError(message);
}

absl::Status ScanAt(
    leveldb::DB* db, const leveldb::Snapshot* snapshot, const std::string& path,
    absl::string_view begin, absl::string_view end,
    const std::function<bool(absl::string_view key, absl::string_view value)>& visit) {
  leveldb::ReadOptions options;
  options.snapshot = snapshot;
  options.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(options));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    absl::string_view key = ToView(it->key());
    if (!end.empty() && key >= end) break;
    if (!visit(key, ToView(it->value()))) break;
  }
  if (!it->status().ok()) return FromLevelDB(it->status(), absl::StrCat("LevelDB scan in ", path));
  return absl::OkStatus();
}

class LevelDBSnapshot : public StorageSnapshot {
 public:
  LevelDBSnapshot(leveldb::DB* db, const std::string* path)
      : db_(db), path_(path), snapshot_(db->GetSnapshot()) {}
  ~LevelDBSnapshot() override { db_->ReleaseSnapshot(snapshot_); }

  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const std::function<bool(absl::string_view key, absl::string_view value)>&
                        visit) const override {
    return ScanAt(db_, snapshot_, *path_, begin, end, visit);
  }

 private:
  leveldb::DB* const db_;
  const std::string* const path_;
  const leveldb::Snapshot* const snapshot_;
};

class LevelDBStorage : public Storage {
 public:
  LevelDBStorage(std::string path, std::unique_ptr<leveldb::Cache> cache,
                 std::unique_ptr<const leveldb::FilterPolicy> filter,
                 std::unique_ptr<leveldb::DB> db)
      : path_(std::move(path)),
        cache_(std::move(cache)),
        filter_(std::move(filter)),
        db_(std::move(db)) {}

  ~LevelDBStorage() override {
    // The database uses the cache and filter policy until it is closed.
    db_.reset();
  }

  absl::StatusOr<std::string> Get(absl::string_view key) override {
    std::string value;
    leveldb::Status status = db_->Get(leveldb::ReadOptions(), ToSlice(key), &value);
    if (status.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("key \"", absl::CHexEscape(key), "\" not found"));
    }
    if (!status.ok()) return FromLevelDB(status, absl::StrCat("LevelDB get in ", path_));
    return value;
  }

  absl::Status Write(const WriteBatch& batch, bool sync) override {
    leveldb::WriteBatch native;
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.is_delete) {
        native.Delete(op.key);
      } else {
        native.Put(op.key, op.value);
      }
    }
    leveldb::WriteOptions options;
    options.sync = sync;
    leveldb::Status status = db_->Write(options, &native);
    if (!status.ok()) return FromLevelDB(status, absl::StrCat("LevelDB write in ", path_));
    return absl::OkStatus();
  }

  absl::Status Scan(
      absl::string_view begin, absl::string_view end,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) override {
    LevelDBSnapshot snapshot(db_.get(), &path_);
    return snapshot.Scan(begin, end, visit);
  }

  std::unique_ptr<StorageSnapshot> NewSnapshot() override {
    return std::make_unique<LevelDBSnapshot>(db_.get(), &path_);
  }

  absl::Status Flush() override {
    // A synced write makes the log, and therefore every earlier write, durable.
    leveldb::WriteBatch empty;
    leveldb::WriteOptions options;
    options.sync = true;
    leveldb::Status status = db_->Write(options, &empty);
    if (!status.ok()) return FromLevelDB(status, absl::StrCat("LevelDB flush of ", path_));
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> OpenLevelDBStorage(const std::string& path,
                                                            const LevelDBOptions& options) {
  std::unique_ptr<leveldb::Cache> cache(leveldb::NewLRUCache(options.block_cache_bytes));
  std::unique_ptr<const leveldb::FilterPolicy> filter(leveldb::NewBloomFilterPolicy(10));

  leveldb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.paranoid_checks = true;
  db_options.write_buffer_size = options.write_buffer_bytes;
  db_options.block_cache = cache.get();
  db_options.filter_policy = filter.get();

  leveldb::DB* raw_db = nullptr;
  leveldb::Status status = leveldb::DB::Open(db_options, path, &raw_db);
  if (!status.ok()) {
    return FromLevelDB(status, absl::StrCat("cannot open LevelDB database at ", path));
  }
  return std::make_unique<LevelDBStorage>(path, std::move(cache), std::move(filter),
                                          std::unique_ptr<leveldb::DB>(raw_db));
}

}  // namespace resdb
