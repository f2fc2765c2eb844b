#include "platform/consensus/ordering/raft/raft_log.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace raft {
namespace {

constexpr absl::string_view kComponent = "RaftLog";
constexpr absl::string_view kMetaKey = "m";
constexpr absl::string_view kEntryTag = "e";
constexpr char kMetaVersion = 1;
// At most this many distinct-term runs are cached; older runs are read from storage.
constexpr size_t kMaxTermRuns = 1024;

std::string EntryKey(uint64_t index) { return IndexKey(kEntryTag, index); }

// Parses an entry record read at `key` and checks that it holds `index`.
absl::StatusOr<Entry> DecodeEntry(absl::string_view key, absl::string_view value, uint64_t index) {
  Entry entry;
  absl::Status status = DecodeMessageRecord(kComponent, key, value, &entry);
  if (!status.ok()) return status;
  if (entry.index() != index) {
    return CorruptRecordError(kComponent, key,
                              absl::StrCat("holds index ", entry.index(), ", expected ", index));
  }
  return entry;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RaftLog>> RaftLog::Open(Storage* storage, bool sync) {
  Meta meta;
  absl::StatusOr<std::string> value = storage->Get(kMetaKey);
  if (absl::IsNotFound(value.status())) {
    auto stray = storage->GetRange(kEntryTag, "f", 1);
    if (!stray.ok()) return stray.status();
    if (!stray->empty()) {
      return CorruptRecordError(
          kComponent, kMetaKey,
          absl::StrCat("missing, but entry key ", DescribeKey(stray->front().first), " exists"));
    }
    return std::unique_ptr<RaftLog>(new RaftLog(storage, sync, meta));
  }
  if (!value.ok()) return value.status();

  absl::StatusOr<absl::string_view> payload = UnsealRecord(kComponent, kMetaKey, *value);
  if (!payload.ok()) return payload.status();
  if (payload->size() != 1 + 6 * 8 || (*payload)[0] != kMetaVersion) {
    return CorruptRecordError(kComponent, kMetaKey, "unknown metadata format");
  }
  const char* p = payload->data() + 1;
  meta.first_index = GetFixed64(p);
  meta.last_index = GetFixed64(p + 8);
  meta.last_term = GetFixed64(p + 16);
  meta.boundary_index = GetFixed64(p + 24);
  meta.boundary_term = GetFixed64(p + 32);
  meta.commit_index = GetFixed64(p + 40);
  if (meta.first_index != meta.boundary_index + 1 || meta.last_index < meta.boundary_index ||
      meta.commit_index > meta.last_index || meta.last_term < meta.boundary_term ||
      (meta.last_index == meta.boundary_index && meta.last_term != meta.boundary_term)) {
    return CorruptRecordError(
        kComponent, kMetaKey,
        absl::StrCat("inconsistent bounds: first ", meta.first_index, ", last ", meta.last_index,
                     " (term ", meta.last_term, "), boundary ", meta.boundary_index, " (term ",
                     meta.boundary_term, "), commit ", meta.commit_index));
  }

  if (meta.last_index >= meta.first_index) {
    for (uint64_t index : {meta.first_index, meta.last_index}) {
      std::string key = EntryKey(index);
      absl::StatusOr<std::string> record = storage->Get(key);
      if (absl::IsNotFound(record.status())) {
        return CorruptRecordError(kComponent, key, "entry is missing");
      }
      if (!record.ok()) return record.status();
      absl::StatusOr<Entry> entry = DecodeEntry(key, *record, index);
      if (!entry.ok()) return entry.status();
      if (index == meta.last_index && entry->term() != meta.last_term) {
        return CorruptRecordError(kComponent, key,
                                  absl::StrCat("last entry has term ", entry->term(),
                                               ", metadata says ", meta.last_term));
      }
    }
  }
  return std::unique_ptr<RaftLog>(new RaftLog(storage, sync, meta));
}

RaftLog::RaftLog(Storage* storage, bool sync, const Meta& meta)
    : storage_(storage), sync_(sync), meta_(meta) {
  ResetTermRunsLocked();
}

void RaftLog::ResetTermRunsLocked() {
  term_runs_.clear();
  if (meta_.last_index >= meta_.first_index) {
    term_runs_.push_back({meta_.last_index, meta_.last_term});
  }
}

absl::Status RaftLog::Commit(WriteBatch* batch, const Meta& meta, bool sync) {
  std::string payload(1, kMetaVersion);
  for (uint64_t field : {meta.first_index, meta.last_index, meta.last_term, meta.boundary_index,
                         meta.boundary_term, meta.commit_index}) {
    PutFixed64(&payload, field);
  }
  batch->Put(kMetaKey, SealRecord(payload));
  absl::Status status = storage_->Write(*batch, sync);
  if (status.ok()) meta_ = meta;
  return status;
}

absl::Status RaftLog::Append(const std::vector<Entry>& entries) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries.empty()) return absl::OkStatus();
  uint64_t prev_term = meta_.last_term;
  WriteBatch batch;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = entries[i];
    uint64_t expected = meta_.last_index + 1 + i;
    if (entry.index() != expected) {
      return absl::InvalidArgumentError(absl::StrCat("RaftLog::Append: entry ", i, " has index ",
                                                     entry.index(), ", expected ", expected,
                                                     " (last log index ", meta_.last_index, ")"));
    }
    if (entry.term() < prev_term) {
      return absl::InvalidArgumentError(
          absl::StrCat("RaftLog::Append: entry at index ", entry.index(), " has term ",
                       entry.term(), ", lower than term ", prev_term, " before it"));
    }
    prev_term = entry.term();
    batch.Put(EntryKey(entry.index()), EncodeMessageRecord(entry));
  }
  Meta meta = meta_;
  meta.last_index = entries.back().index();
  meta.last_term = entries.back().term();
  absl::Status status = Commit(&batch, meta, sync_);
  if (!status.ok()) return status;

  for (const Entry& entry : entries) {
    if (term_runs_.empty() || term_runs_.back().term != entry.term()) {
      term_runs_.push_back({entry.index(), entry.term()});
    }
  }
  if (term_runs_.size() > kMaxTermRuns) {
    term_runs_.erase(term_runs_.begin(), term_runs_.end() - kMaxTermRuns);
  }
  return absl::OkStatus();
}

absl::Status RaftLog::Truncate(uint64_t from_index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (from_index <= meta_.commit_index) {
    return absl::FailedPreconditionError(
        absl::StrCat("RaftLog::Truncate(", from_index, "): entries up to the commit index ",
                     meta_.commit_index, " are committed and cannot be removed"));
  }
  if (from_index < meta_.first_index) {
    return absl::OutOfRangeError(absl::StrCat("RaftLog::Truncate(", from_index, "): entries below ",
                                              meta_.first_index, " are compacted"));
  }
  if (from_index > meta_.last_index) return absl::OkStatus();

  absl::StatusOr<uint64_t> new_last_term = TermLocked(from_index - 1);
  if (!new_last_term.ok()) return new_last_term.status();
  WriteBatch batch;
  for (uint64_t index = from_index; index <= meta_.last_index; ++index) {
    batch.Delete(EntryKey(index));
  }
  Meta meta = meta_;
  meta.last_index = from_index - 1;
  meta.last_term = *new_last_term;
  absl::Status status = Commit(&batch, meta, sync_);
  if (!status.ok()) return status;

  while (!term_runs_.empty() && term_runs_.back().first_index >= from_index) {
    term_runs_.pop_back();
  }
  if (term_runs_.empty()) ResetTermRunsLocked();
  return absl::OkStatus();
}

absl::Status RaftLog::CompactTo(uint64_t index, uint64_t term) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < meta_.first_index) return absl::OkStatus();
  if (term < meta_.boundary_term) {
    return absl::InvalidArgumentError(
        absl::StrCat("RaftLog::CompactTo(", index, ", ", term, "): term is below the term ",
                     meta_.boundary_term, " of the current boundary ", meta_.boundary_index));
  }
  bool keep_suffix = false;
  if (index < meta_.last_index) {
    absl::StatusOr<uint64_t> existing = TermLocked(index);
    if (!existing.ok()) return existing.status();
    keep_suffix = *existing == term;
  }
  if (!keep_suffix && meta_.commit_index > index) {
    return absl::FailedPreconditionError(absl::StrCat(
        "RaftLog::CompactTo(", index, ", ", term, "): the log has another term at ", index,
        " and its entries up to ", meta_.commit_index, " are committed; they cannot be discarded"));
  }
  uint64_t delete_to = keep_suffix ? index : meta_.last_index;
  WriteBatch batch;
  for (uint64_t i = meta_.first_index; i <= delete_to; ++i) batch.Delete(EntryKey(i));

  Meta meta = meta_;
  meta.boundary_index = index;
  meta.boundary_term = term;
  meta.first_index = index + 1;
  meta.commit_index = std::max(meta.commit_index, index);
  if (!keep_suffix) {
    meta.last_index = index;
    meta.last_term = term;
  }
  absl::Status status = Commit(&batch, meta, sync_);
  if (!status.ok()) return status;

  if (!keep_suffix) {
    term_runs_.clear();
  } else {
    while (term_runs_.size() >= 2 && term_runs_[1].first_index <= meta.first_index) {
      term_runs_.erase(term_runs_.begin());
    }
    if (!term_runs_.empty() && term_runs_.front().first_index < meta.first_index) {
      term_runs_.front().first_index = meta.first_index;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Entry>> RaftLog::Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lo > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("RaftLog::Entries: lo ", lo, " is above hi ", hi));
  }
  if (lo < meta_.first_index) {
    return absl::OutOfRangeError(absl::StrCat(
        "RaftLog::Entries: index ", lo, " is compacted (first index ", meta_.first_index, ")"));
  }
  if (hi > meta_.last_index + 1) {
    return absl::OutOfRangeError(absl::StrCat("RaftLog::Entries: hi ", hi,
                                              " is beyond the last log index ", meta_.last_index));
  }
  std::vector<Entry> entries;
  if (lo == hi) return entries;

  uint64_t next = lo;
  uint64_t bytes = 0;
  bool budget_reached = false;
  absl::Status error;
  absl::Status scan = storage_->Scan(EntryKey(lo), EntryKey(hi),
                                     [&](absl::string_view key, absl::string_view value) {
                                       uint64_t index = 0;
                                       if (!ParseIndexKey(key, kEntryTag, &index) || index != next)
                                         return false;
                                       absl::StatusOr<Entry> entry = DecodeEntry(key, value, index);
                                       if (!entry.ok()) {
                                         error = entry.status();
                                         return false;
                                       }
                                       uint64_t size = entry->ByteSizeLong();
                                       if (!entries.empty() && bytes + size > max_bytes) {
                                         budget_reached = true;
                                         return false;
                                       }
                                       bytes += size;
                                       entries.push_back(*std::move(entry));
                                       ++next;
                                       return true;
                                     });
  if (!scan.ok()) return scan;
  if (!error.ok()) return error;
  if (next < hi && !budget_reached) {
    return CorruptRecordError(kComponent, EntryKey(next), "entry is missing");
  }
  return entries;
}

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index == 0) return 0;
  if (index + 1 < meta_.first_index || index > meta_.last_index) {
    return absl::OutOfRangeError(absl::StrCat("RaftLog::Term(", index, "): log holds [",
                                              meta_.first_index, ", ", meta_.last_index,
                                              "] after boundary ", meta_.boundary_index));
  }
  return TermLocked(index);
}

absl::StatusOr<uint64_t> RaftLog::TermLocked(uint64_t index) {
  if (index == meta_.boundary_index) return meta_.boundary_term;
  if (index == 0) return 0;
  if (!term_runs_.empty() && index >= term_runs_.front().first_index) {
    auto it = std::upper_bound(term_runs_.begin(), term_runs_.end(), index,
                               [](uint64_t i, const TermRun& run) { return i < run.first_index; });
    return std::prev(it)->term;
  }
  absl::StatusOr<Entry> entry = ReadEntryLocked(index);
  if (!entry.ok()) return entry.status();
  return entry->term();
}

absl::StatusOr<Entry> RaftLog::ReadEntryLocked(uint64_t index) {
  std::string key = EntryKey(index);
  absl::StatusOr<std::string> record = storage_->Get(key);
  if (absl::IsNotFound(record.status())) {
    return CorruptRecordError(kComponent, key, "entry is missing");
  }
  if (!record.ok()) return record.status();
  return DecodeEntry(key, *record, index);
}

uint64_t RaftLog::FirstIndex() const {
  std::lock_guard<std::mutex> lock(mu_);
  return meta_.first_index;
}

uint64_t RaftLog::LastLogIndex() const {
  std::lock_guard<std::mutex> lock(mu_);
  return meta_.last_index;
}

uint64_t RaftLog::LastLogTerm() const {
  std::lock_guard<std::mutex> lock(mu_);
  return meta_.last_term;
}

absl::Status RaftLog::CommitTo(uint64_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index <= meta_.commit_index) return absl::OkStatus();
  if (index > meta_.last_index) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RaftLog::CommitTo(", index, "): beyond the last log index ", meta_.last_index));
  }
  Meta meta = meta_;
  meta.commit_index = index;
  WriteBatch batch;
  return Commit(&batch, meta, /*sync=*/false);
}

uint64_t RaftLog::CommitIndex() const {
  std::lock_guard<std::mutex> lock(mu_);
  return meta_.commit_index;
}

}  // namespace raft
}  // namespace resdb
