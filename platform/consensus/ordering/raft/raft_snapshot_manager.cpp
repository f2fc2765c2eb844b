#include "platform/consensus/ordering/raft/raft_snapshot_manager.h"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "platform/common/crypto/signature.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace raft {
namespace {

constexpr absl::string_view kComponent = "RaftSnapshotManager";
constexpr absl::string_view kActiveKey = "active";
constexpr absl::string_view kSlotNames[2] = {"a", "b"};
constexpr absl::string_view kSlotRecordSuffix = "_meta";
constexpr char kSlotRecordVersion = 1;
constexpr size_t kSha256Bytes = 32;

std::string SlotRecordKey(int slot) { return absl::StrCat(kSlotNames[slot], kSlotRecordSuffix); }
std::string ChunkKey(int slot, uint64_t offset) { return IndexKey(kSlotNames[slot], offset); }

// Incremental SHA-256, so that a stored snapshot is hashed one chunk at a time.
class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
    ok_ = ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1;
  }
  ~Sha256Stream() { EVP_MD_CTX_free(ctx_); }
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void Update(absl::string_view data) {
    ok_ = ok_ && EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1;
  }
  absl::StatusOr<std::string> Finish() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    ok_ = ok_ && EVP_DigestFinal_ex(ctx_, digest, &length) == 1;
    if (!ok_) return absl::InternalError("RaftSnapshotManager: SHA-256 computation failed");
    return std::string(reinterpret_cast<const char*>(digest), length);
  }

 private:
  EVP_MD_CTX* ctx_;
  bool ok_;
};

bool SameMetadata(const SnapshotMetadata& a, const SnapshotMetadata& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RaftSnapshotManager>> RaftSnapshotManager::Open(
    Storage* storage, uint64_t chunk_bytes) {
  if (chunk_bytes == 0) {
    return absl::InvalidArgumentError("RaftSnapshotManager: chunk_bytes must be positive");
  }
  std::unique_ptr<RaftSnapshotManager> manager(new RaftSnapshotManager(storage, chunk_bytes));

  for (int slot = 0; slot < 2; ++slot) {
    std::string key = SlotRecordKey(slot);
    absl::StatusOr<std::string> value = storage->Get(key);
    if (absl::IsNotFound(value.status())) continue;
    if (!value.ok()) return value.status();
    absl::StatusOr<absl::string_view> payload = UnsealRecord(kComponent, key, *value);
    if (!payload.ok()) return payload.status();
    Slot& state = manager->slots_[slot];
    if (payload->size() < 17 || (*payload)[0] != kSlotRecordVersion) {
      return CorruptRecordError(kComponent, key, "unknown slot record format");
    }
    state.chunk_bytes = GetFixed64(payload->data() + 1);
    state.received = GetFixed64(payload->data() + 9);
    absl::string_view metadata = payload->substr(17);
    if (!state.metadata.ParseFromArray(metadata.data(), static_cast<int>(metadata.size()))) {
      return CorruptRecordError(kComponent, key, "metadata does not parse");
    }
    if (state.chunk_bytes == 0 || state.received > state.metadata.size()) {
      return CorruptRecordError(kComponent, key,
                                absl::StrCat("chunk size ", state.chunk_bytes, ", ", state.received,
                                             " bytes received of ", state.metadata.size()));
    }
    state.present = true;
  }

  absl::StatusOr<std::string> active = storage->Get(kActiveKey);
  if (absl::IsNotFound(active.status())) return manager;
  if (!active.ok()) return active.status();
  absl::StatusOr<absl::string_view> name = UnsealRecord(kComponent, kActiveKey, *active);
  if (!name.ok()) return name.status();
  if (*name == kSlotNames[0]) {
    manager->active_ = 0;
  } else if (*name == kSlotNames[1]) {
    manager->active_ = 1;
  } else {
    return CorruptRecordError(kComponent, kActiveKey,
                              absl::StrCat("names unknown slot ", DescribeKey(*name)));
  }
  const Slot& current = manager->slots_[manager->active_];
  if (!current.present || current.received != current.metadata.size()) {
    return CorruptRecordError(kComponent, SlotRecordKey(manager->active_),
                              "the active slot does not hold a complete snapshot");
  }
  return manager;
}

RaftSnapshotManager::RaftSnapshotManager(Storage* storage, uint64_t chunk_bytes)
    : storage_(storage), chunk_bytes_(chunk_bytes) {}

void RaftSnapshotManager::DeleteSlotKeysLocked(int slot, WriteBatch* batch) const {
  const Slot& state = slots_[slot];
  if (!state.present) return;
  for (uint64_t offset = 0; offset < state.received; offset += state.chunk_bytes) {
    batch->Delete(ChunkKey(slot, offset));
  }
  batch->Delete(SlotRecordKey(slot));
}

void RaftSnapshotManager::PutSlotRecordLocked(int slot, const Slot& state,
                                              WriteBatch* batch) const {
  std::string payload(1, kSlotRecordVersion);
  PutFixed64(&payload, state.chunk_bytes);
  PutFixed64(&payload, state.received);
  payload += state.metadata.SerializeAsString();
  batch->Put(SlotRecordKey(slot), SealRecord(payload));
}

absl::Status RaftSnapshotManager::AppendLocked(int slot, absl::string_view data, bool sync) {
  Slot next = slots_[slot];
  const uint64_t chunk = next.chunk_bytes;
  WriteBatch batch;
  while (!data.empty()) {
    uint64_t start = next.received - next.received % chunk;
    std::string piece;
    if (start < next.received) {
      absl::Status status = ReadLocked(slot, start, next.received - start, &piece);
      if (!status.ok()) return status;
    }
    size_t take = std::min<uint64_t>(data.size(), chunk - piece.size());
    piece.append(data.data(), take);
    data.remove_prefix(take);
    next.received += take;
    batch.Put(ChunkKey(slot, start), piece);
  }
  PutSlotRecordLocked(slot, next, &batch);
  absl::Status status = storage_->Write(batch, sync);
  if (status.ok()) slots_[slot] = std::move(next);
  return status;
}

absl::Status RaftSnapshotManager::ReadLocked(int slot, uint64_t offset, uint64_t length,
                                             std::string* out) const {
  const uint64_t chunk = slots_[slot].chunk_bytes;
  const uint64_t end = offset + length;
  while (offset < end) {
    uint64_t start = offset - offset % chunk;
    uint64_t expected = std::min(chunk, slots_[slot].received - start);
    std::string key = ChunkKey(slot, start);
    absl::StatusOr<std::string> value = storage_->Get(key);
    if (absl::IsNotFound(value.status())) {
      return CorruptRecordError(kComponent, key, "snapshot chunk is missing");
    }
    if (!value.ok()) return value.status();
    if (value->size() != expected) {
      return CorruptRecordError(
          kComponent, key,
          absl::StrCat("chunk holds ", value->size(), " bytes, expected ", expected));
    }
    uint64_t take = std::min(end, start + expected) - offset;
    out->append(*value, offset - start, take);
    offset += take;
  }
  return absl::OkStatus();
}

absl::Status RaftSnapshotManager::DiscardLocked(int slot) {
  WriteBatch batch;
  DeleteSlotKeysLocked(slot, &batch);
  if (batch.empty()) return absl::OkStatus();
  absl::Status status = storage_->Write(batch, /*sync=*/false);
  if (status.ok()) slots_[slot] = Slot();
  return status;
}

absl::Status RaftSnapshotManager::ActivateLocked(int slot) {
  WriteBatch batch;
  batch.Put(kActiveKey, SealRecord(kSlotNames[slot]));
  int old = active_;
  if (old >= 0) DeleteSlotKeysLocked(old, &batch);
  absl::Status status = storage_->Write(batch, /*sync=*/true);
  if (!status.ok()) return status;
  active_ = slot;
  if (old >= 0) slots_[old] = Slot();
  return absl::OkStatus();
}

absl::Status RaftSnapshotManager::Save(const SnapshotMetadata& metadata, absl::string_view data) {
  std::lock_guard<std::mutex> lock(mu_);
  const int slot = IncomingSlotLocked();
  Slot fresh;
  fresh.present = true;
  fresh.chunk_bytes = chunk_bytes_;
  fresh.metadata = metadata;
  fresh.metadata.set_size(data.size());
  fresh.metadata.set_checksum(Sha256(data));

  WriteBatch reset;
  DeleteSlotKeysLocked(slot, &reset);
  PutSlotRecordLocked(slot, fresh, &reset);
  absl::Status status = storage_->Write(reset, /*sync=*/false);
  if (!status.ok()) return status;
  slots_[slot] = fresh;

  while (!data.empty()) {
    absl::string_view piece = data.substr(0, chunk_bytes_);
    status = AppendLocked(slot, piece, /*sync=*/false);
    if (!status.ok()) return status;
    data.remove_prefix(piece.size());
  }
  return ActivateLocked(slot);
}

absl::Status RaftSnapshotManager::BeginIncoming(const SnapshotMetadata& metadata) {
  if (metadata.checksum().size() != kSha256Bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RaftSnapshotManager::BeginIncoming: checksum has ", metadata.checksum().size(),
        " bytes, expected a ", kSha256Bytes, "-byte SHA-256"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  const int slot = IncomingSlotLocked();
  if (slots_[slot].present && SameMetadata(slots_[slot].metadata, metadata)) {
    return absl::OkStatus();
  }
  Slot fresh;
  fresh.present = true;
  fresh.chunk_bytes = chunk_bytes_;
  fresh.metadata = metadata;
  WriteBatch batch;
  DeleteSlotKeysLocked(slot, &batch);
  PutSlotRecordLocked(slot, fresh, &batch);
  absl::Status status = storage_->Write(batch, /*sync=*/false);
  if (status.ok()) slots_[slot] = std::move(fresh);
  return status;
}

absl::StatusOr<uint64_t> RaftSnapshotManager::WriteChunk(const SnapshotChunk& chunk) {
  std::lock_guard<std::mutex> lock(mu_);
  const int slot = IncomingSlotLocked();
  const Slot& state = slots_[slot];
  if (!state.present) {
    return absl::FailedPreconditionError(
        "RaftSnapshotManager::WriteChunk: no snapshot is incoming");
  }
  if (chunk.offset() != state.received) {
    return absl::FailedPreconditionError(
        absl::StrCat("RaftSnapshotManager::WriteChunk: chunk at offset ", chunk.offset(),
                     ", expected offset ", state.received));
  }
  if (chunk.data().size() > state.metadata.size() - state.received) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RaftSnapshotManager::WriteChunk: chunk of ", chunk.data().size(), " bytes at offset ",
        chunk.offset(), " ends past the snapshot size ", state.metadata.size()));
  }
  absl::Status status = AppendLocked(slot, chunk.data(), /*sync=*/false);
  if (!status.ok()) return status;
  return slots_[slot].received;
}

uint64_t RaftSnapshotManager::IncomingOffset() const {
  std::lock_guard<std::mutex> lock(mu_);
  const Slot& state = slots_[IncomingSlotLocked()];
  return state.present ? state.received : 0;
}

std::optional<SnapshotMetadata> RaftSnapshotManager::Incoming() const {
  std::lock_guard<std::mutex> lock(mu_);
  const Slot& state = slots_[IncomingSlotLocked()];
  if (!state.present) return std::nullopt;
  return state.metadata;
}

absl::Status RaftSnapshotManager::FinishIncoming() {
  std::lock_guard<std::mutex> lock(mu_);
  const int slot = IncomingSlotLocked();
  const Slot& state = slots_[slot];
  if (!state.present) {
    return absl::FailedPreconditionError(
        "RaftSnapshotManager::FinishIncoming: no snapshot is incoming");
  }
  if (state.received != state.metadata.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("RaftSnapshotManager::FinishIncoming: received ", state.received, " of ",
                     state.metadata.size(), " bytes"));
  }
  Sha256Stream hash;
  absl::Status status;
  for (uint64_t offset = 0; offset < state.received && status.ok(); offset += state.chunk_bytes) {
    std::string piece;
    status = ReadLocked(slot, offset, std::min(state.chunk_bytes, state.received - offset), &piece);
    hash.Update(piece);
  }
  if (status.ok()) {
    absl::StatusOr<std::string> digest = hash.Finish();
    if (!digest.ok()) return digest.status();
    if (*digest != state.metadata.checksum()) {
      status = absl::DataLossError(
          absl::StrCat("RaftSnapshotManager::FinishIncoming: snapshot at index ",
                       state.metadata.last_included_index(), " has SHA-256 ", ToHex(*digest),
                       ", expected ", ToHex(state.metadata.checksum()), "; discarded"));
    }
  }
  if (!status.ok()) {
    if (!absl::IsDataLoss(status)) return status;
    absl::Status discard = DiscardLocked(slot);
    if (!discard.ok()) {
      return absl::DataLossError(
          absl::StrCat(status.message(), " (discarding failed: ", discard.ToString(), ")"));
    }
    return status;
  }
  return ActivateLocked(slot);
}

void RaftSnapshotManager::AbortIncoming() {
  std::lock_guard<std::mutex> lock(mu_);
  DiscardLocked(IncomingSlotLocked()).IgnoreError();
}

std::optional<SnapshotMetadata> RaftSnapshotManager::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (active_ < 0) return std::nullopt;
  return slots_[active_].metadata;
}

absl::StatusOr<SnapshotChunk> RaftSnapshotManager::ReadChunk(uint64_t offset,
                                                             uint64_t max_bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (active_ < 0) return absl::NotFoundError("RaftSnapshotManager: no snapshot");
  if (max_bytes == 0) {
    return absl::InvalidArgumentError("RaftSnapshotManager::ReadChunk: max_bytes is 0");
  }
  const uint64_t size = slots_[active_].metadata.size();
  if (offset > size) {
    return absl::OutOfRangeError(absl::StrCat("RaftSnapshotManager::ReadChunk: offset ", offset,
                                              " is past the snapshot size ", size));
  }
  uint64_t length = std::min(max_bytes, size - offset);
  SnapshotChunk chunk;
  chunk.set_offset(offset);
  absl::Status status = ReadLocked(active_, offset, length, chunk.mutable_data());
  if (!status.ok()) return status;
  chunk.set_done(offset + length == size);
  return chunk;
}

absl::StatusOr<std::string> RaftSnapshotManager::ReadAll() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (active_ < 0) return absl::NotFoundError("RaftSnapshotManager: no snapshot");
  const SnapshotMetadata& metadata = slots_[active_].metadata;
  std::string data;
  absl::Status status = ReadLocked(active_, 0, metadata.size(), &data);
  if (!status.ok()) return status;
  if (Sha256(data) != metadata.checksum()) {
    return absl::DataLossError(absl::StrCat("RaftSnapshotManager::ReadAll: snapshot at index ",
                                            metadata.last_included_index(),
                                            " does not match its SHA-256"));
  }
  return data;
}

}  // namespace raft
}  // namespace resdb
