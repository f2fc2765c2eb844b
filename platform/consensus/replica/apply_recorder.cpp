#include "platform/consensus/replica/apply_recorder.h"

#include "absl/strings/str_cat.h"
#include "platform/common/fail_stop.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/prefixed_storage.h"

namespace resdb {

ApplyRecorder::ApplyRecorder(Storage* storage, absl::string_view records_prefix,
                             StagedStorage* staged_state)
    : storage_(storage),
      records_prefix_(records_prefix),
      staged_state_(staged_state),
      records_(std::make_unique<PrefixedStorage>(storage, records_prefix)) {}

absl::Status ApplyRecorder::Load() {
  absl::Status loaded = table_.Load(records_.get());
  if (!loaded.ok()) {
    return absl::Status(loaded.code(), absl::StrCat("applied requests: ", loaded.message()));
  }
  return digest_.Load(records_.get());
}

void ApplyRecorder::Record(uint64_t seq, const BatchUserResponse& responses) {
  WriteBatch records;
  digest_.Extend(responses, &records);
  table_.Flush(seq, &records);
  FailStopIfError(absl::StrCat("cannot store the state of index ", seq), Write(records));
}

absl::Status ApplyRecorder::Write(const WriteBatch& records) {
  if (staged_state_ == nullptr) return records_->Write(records, /*sync=*/false);
  return staged_state_->Commit([&](const WriteBatch& state) {
    WriteBatch all;
    all.AppendPrefixed(kUserDataPrefix, state);
    all.AppendPrefixed(records_prefix_, records);
    return storage_->Write(all, /*sync=*/false);
  });
}

std::optional<std::string> ApplyRecorder::Lookup(uint64_t client_id, uint64_t request_id) const {
  return table_.Lookup(client_id, request_id);
}

}  // namespace resdb
