#include "platform/consensus/ordering/pbft/pbft_wal.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace pbft {
namespace {

constexpr absl::string_view kComponent = "PbftWal";
constexpr absl::string_view kMetaKey = "meta";
constexpr absl::string_view kViewKey = "view";
constexpr absl::string_view kStableKey = "stable";
constexpr absl::string_view kSlotTag = "slot/";
constexpr absl::string_view kSlotEnd = "slot0";  // '0' follows '/'.
constexpr absl::string_view kLedgerTag = "ledger/";
constexpr absl::string_view kLedgerEnd = "ledger0";
constexpr char kMetaVersion = 1;
constexpr size_t kMetaPayloadBytes = 1 + 2 * 8;
// Ledger entries deleted per trim step, so that trimming a long ledger does not build one
// huge batch.
constexpr uint64_t kTrimStep = 4096;

std::string SlotKey(uint64_t seq) { return IndexKey(kSlotTag, seq); }
std::string LedgerKey(uint64_t seq) { return IndexKey(kLedgerTag, seq); }

// Parses a ledger record read at `key` and checks that it holds `seq`.
absl::StatusOr<CommittedBatch> DecodeLedgerEntry(absl::string_view key, absl::string_view value,
                                                 uint64_t seq) {
  CommittedBatch batch;
  absl::Status status = DecodeMessageRecord(kComponent, key, value, &batch);
  if (!status.ok()) return status;
  if (batch.seq() != seq) {
    return CorruptRecordError(kComponent, key,
                              absl::StrCat("holds seq ", batch.seq(), ", expected ", seq));
  }
  return batch;
}

// Reads the optional record at `key` into `*message`; false if it is absent.
absl::StatusOr<bool> ReadOptional(Storage* storage, absl::string_view key,
                                  google::protobuf::MessageLite* message) {
  absl::StatusOr<std::string> value = storage->Get(key);
  if (absl::IsNotFound(value.status())) return false;
  if (!value.ok()) return value.status();
  absl::Status status = DecodeMessageRecord(kComponent, key, *value, message);
  if (!status.ok()) return status;
  return true;
}

absl::Status CheckLedgerEntry(Storage* storage, uint64_t seq) {
  std::string key = LedgerKey(seq);
  absl::StatusOr<std::string> value = storage->Get(key);
  if (absl::IsNotFound(value.status())) {
    return CorruptRecordError(kComponent, key, "ledger entry is missing");
  }
  if (!value.ok()) return value.status();
  return DecodeLedgerEntry(key, *value, seq).status();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PbftWal>> PbftWal::Open(Storage* storage, bool sync) {
  Meta meta;
  absl::StatusOr<std::string> meta_value = storage->Get(kMetaKey);
  if (absl::IsNotFound(meta_value.status())) {
    auto stray = storage->GetRange(kLedgerTag, kLedgerEnd, 1);
    if (!stray.ok()) return stray.status();
    if (!stray->empty()) {
      return CorruptRecordError(
          kComponent, kMetaKey,
          absl::StrCat("missing, but ledger key ", DescribeKey(stray->front().first), " exists"));
    }
  } else if (!meta_value.ok()) {
    return meta_value.status();
  } else {
    absl::StatusOr<absl::string_view> payload = UnsealRecord(kComponent, kMetaKey, *meta_value);
    if (!payload.ok()) return payload.status();
    if (payload->size() != kMetaPayloadBytes || (*payload)[0] != kMetaVersion) {
      return CorruptRecordError(kComponent, kMetaKey, "unknown metadata format");
    }
    meta.first = GetFixed64(payload->data() + 1);
    meta.last = GetFixed64(payload->data() + 9);
    if ((meta.first == 0) != (meta.last == 0) || meta.first > meta.last) {
      return CorruptRecordError(
          kComponent, kMetaKey,
          absl::StrCat("inconsistent ledger bounds: first ", meta.first, ", last ", meta.last));
    }
    if (meta.last != 0) {
      for (uint64_t seq : {meta.first, meta.last}) {
        absl::Status status = CheckLedgerEntry(storage, seq);
        if (!status.ok()) return status;
      }
    }
  }

  RestoredState restored;
  restored.last_committed = meta.last;
  ViewRecord view;
  absl::StatusOr<bool> has_view = ReadOptional(storage, kViewKey, &view);
  if (!has_view.ok()) return has_view.status();
  if (*has_view) {
    restored.view = view.view();
    restored.view_active = view.active();
    restored.new_view = view.new_view();
  }
  absl::StatusOr<bool> has_stable = ReadOptional(storage, kStableKey, &restored.stable);
  if (!has_stable.ok()) return has_stable.status();

  std::set<uint64_t> slot_seqs;
  absl::Status error;
  absl::Status scan =
      storage->Scan(kSlotTag, kSlotEnd, [&](absl::string_view key, absl::string_view value) {
        uint64_t seq = 0;
        if (!ParseIndexKey(key, kSlotTag, &seq)) {
          error = CorruptRecordError(kComponent, key, "malformed slot key");
          return false;
        }
        SlotRecord slot;
        error = DecodeMessageRecord(kComponent, key, value, &slot);
        if (!error.ok()) return false;
        if (slot.batch().seq() != seq) {
          error =
              CorruptRecordError(kComponent, key, absl::StrCat("holds seq ", slot.batch().seq()));
          return false;
        }
        // Records the stable checkpoint already covers are kept in slot_seqs so the next Write
        // deletes them; a completed Write never leaves any, but they must not be restored.
        slot_seqs.insert(seq);
        if (seq > restored.stable.seq()) restored.slots.push_back(std::move(slot));
        return true;
      });
  if (!scan.ok()) return scan;
  if (!error.ok()) return error;

  return std::unique_ptr<PbftWal>(
      new PbftWal(storage, sync, meta, std::move(restored), std::move(slot_seqs)));
}

PbftWal::PbftWal(Storage* storage, bool sync, const Meta& meta, RestoredState restored,
                 std::set<uint64_t> slot_seqs)
    : storage_(storage),
      sync_(sync),
      restored_(std::move(restored)),
      slot_seqs_(std::move(slot_seqs)),
      stable_seq_(restored_.stable.seq()),
      meta_(meta) {}

const RestoredState& PbftWal::restored() const { return restored_; }

PbftWal::Meta PbftWal::meta() const {
  std::lock_guard<std::mutex> lock(meta_mu_);
  return meta_;
}

void PbftWal::SetFirst(uint64_t first) {
  std::lock_guard<std::mutex> lock(meta_mu_);
  meta_.first = first;
}

uint64_t PbftWal::last_committed() const { return meta().last; }

uint64_t PbftWal::first_ledger_seq() const { return meta().first; }

absl::Status PbftWal::Commit(WriteBatch* batch, const Meta& meta) {
  std::string payload(1, kMetaVersion);
  PutFixed64(&payload, meta.first);
  PutFixed64(&payload, meta.last);
  batch->Put(kMetaKey, SealRecord(payload));
  absl::Status status = storage_->Write(*batch, sync_);
  if (!status.ok()) return status;
  std::lock_guard<std::mutex> lock(meta_mu_);
  meta_ = meta;
  return absl::OkStatus();
}

absl::Status PbftWal::Write(const std::optional<ViewRecord>& view,
                            const std::vector<SlotRecord>& slots,
                            const std::optional<StableCheckpoint>& stable,
                            const std::vector<std::pair<uint64_t, std::string>>& committed) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  Meta meta = meta_;
  for (size_t i = 0; i < committed.size(); ++i) {
    uint64_t expected = meta_.last + 1 + i;
    if (committed[i].first != expected) {
      return absl::InvalidArgumentError(
          absl::StrCat("PbftWal::Write: committed batch ", i, " has seq ", committed[i].first,
                       ", expected ", expected, " (last committed ", meta_.last, ")"));
    }
  }
  // The last record per seq wins, as in Actions::slots.
  std::map<uint64_t, const SlotRecord*> latest;
  for (const SlotRecord& slot : slots) {
    if (slot.batch().seq() == 0) {
      return absl::InvalidArgumentError("PbftWal::Write: slot record without a seq");
    }
    latest[slot.batch().seq()] = &slot;
  }
  if (!view && latest.empty() && !stable && committed.empty()) return absl::OkStatus();

  WriteBatch batch;
  if (view) batch.Put(kViewKey, EncodeMessageRecord(*view));
  if (stable) batch.Put(kStableKey, EncodeMessageRecord(*stable));
  if (!committed.empty()) {
    CommittedBatch entry;
    for (const auto& [seq, data] : committed) {
      entry.set_seq(seq);
      entry.set_data(data);
      batch.Put(LedgerKey(seq), EncodeMessageRecord(entry));
    }
    if (meta.first == 0) meta.first = committed.front().first;
    meta.last = committed.back().first;
  }
  const uint64_t stable_seq = std::max(stable_seq_, stable ? stable->seq() : 0);
  auto superseded_end = slot_seqs_.upper_bound(stable_seq);
  for (auto it = slot_seqs_.begin(); it != superseded_end; ++it) batch.Delete(SlotKey(*it));
  for (auto it = latest.upper_bound(stable_seq); it != latest.end(); ++it) {
    batch.Put(SlotKey(it->first), EncodeMessageRecord(*it->second));
  }

  absl::Status status = Commit(&batch, meta);
  if (!status.ok()) return status;
  stable_seq_ = stable_seq;
  slot_seqs_.erase(slot_seqs_.begin(), superseded_end);
  for (auto it = latest.upper_bound(stable_seq); it != latest.end(); ++it) {
    slot_seqs_.insert(it->first);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CommittedBatch>> PbftWal::ReadLedger(uint64_t from, size_t max_batches,
                                                                size_t max_bytes) const {
  std::vector<CommittedBatch> batches;
  const Meta meta = this->meta();
  if (max_batches == 0 || meta.last == 0 || from < meta.first || from > meta.last) {
    return batches;
  }
  uint64_t last = meta.last;
  if (last - from >= max_batches) last = from + max_batches - 1;

  uint64_t next = from;
  size_t bytes = 0;
  bool budget_reached = false;
  absl::Status error;
  absl::Status scan = storage_->Scan(
      LedgerKey(from), LedgerKey(last + 1), [&](absl::string_view key, absl::string_view value) {
        uint64_t seq = 0;
        if (!ParseIndexKey(key, kLedgerTag, &seq) || seq != next) return false;
        absl::StatusOr<CommittedBatch> entry = DecodeLedgerEntry(key, value, seq);
        if (!entry.ok()) {
          error = entry.status();
          return false;
        }
        if (!batches.empty() && bytes + entry->data().size() > max_bytes) {
          budget_reached = true;
          return false;
        }
        bytes += entry->data().size();
        batches.push_back(*std::move(entry));
        ++next;
        return true;
      });
  if (!scan.ok()) return scan;
  if (!error.ok()) return error;
  if (next <= last && !budget_reached) {
    // The scan sees a snapshot and each trim step removes a prefix atomically, so a
    // concurrent trim can only have removed `from` itself.
    if (batches.empty() && from < first_ledger_seq()) return batches;
    return CorruptRecordError(kComponent, LedgerKey(next), "ledger entry is missing");
  }
  return batches;
}

absl::StatusOr<std::string> PbftWal::ReadBatch(uint64_t seq) const {
  const Meta meta = this->meta();
  if (meta.last == 0 || seq < meta.first || seq > meta.last) {
    return absl::NotFoundError(absl::StrCat("PbftWal: no ledger entry ", seq, " (ledger holds [",
                                            meta.first, ", ", meta.last, "])"));
  }
  std::string key = LedgerKey(seq);
  absl::StatusOr<std::string> value = storage_->Get(key);
  if (absl::IsNotFound(value.status())) {
    if (seq < first_ledger_seq()) {
      return absl::NotFoundError(absl::StrCat("PbftWal: ledger entry ", seq, " was trimmed"));
    }
    return CorruptRecordError(kComponent, key, "ledger entry is missing");
  }
  if (!value.ok()) return value.status();
  absl::StatusOr<CommittedBatch> entry = DecodeLedgerEntry(key, *value, seq);
  if (!entry.ok()) return entry.status();
  return std::move(*entry->mutable_data());
}

absl::Status PbftWal::TrimLedgerBefore(uint64_t seq) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  const uint64_t target = std::min(seq, meta_.last);
  while (meta_.last != 0 && meta_.first < target) {
    const uint64_t old_first = meta_.first;
    Meta meta = meta_;
    meta.first = std::min(target, old_first + kTrimStep);
    WriteBatch batch;
    for (uint64_t i = old_first; i < meta.first; ++i) batch.Delete(LedgerKey(i));
    // Readers learn the new bound before the entries go, so that an entry they find missing
    // is always below the bound they see afterwards (see ReadLedger and ReadBatch).
    SetFirst(meta.first);
    absl::Status status = Commit(&batch, meta);
    if (!status.ok()) {
      SetFirst(old_first);  // The failed write deleted nothing.
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace pbft
}  // namespace resdb
