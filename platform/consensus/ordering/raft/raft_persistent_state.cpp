#include "platform/consensus/ordering/raft/raft_persistent_state.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace raft {
namespace {

constexpr absl::string_view kComponent = "RaftPersistentState";
constexpr absl::string_view kHardStateKey = "hard_state";

// Loads the record at `key` into `*message`; leaves it default if the key is absent.
absl::Status Load(Storage* storage, absl::string_view key, google::protobuf::MessageLite* message) {
  absl::StatusOr<std::string> value = storage->Get(key);
  if (absl::IsNotFound(value.status())) return absl::OkStatus();
  if (!value.ok()) return value.status();
  return DecodeMessageRecord(kComponent, key, *value, message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RaftPersistentState>> RaftPersistentState::Open(Storage* storage,
                                                                               bool sync) {
  HardState hard_state;
  absl::Status status = Load(storage, kHardStateKey, &hard_state);
  if (!status.ok()) return status;
  return std::unique_ptr<RaftPersistentState>(
      new RaftPersistentState(storage, sync, std::move(hard_state)));
}

RaftPersistentState::RaftPersistentState(Storage* storage, bool sync, HardState hard_state)
    : storage_(storage), sync_(sync), hard_state_(std::move(hard_state)) {}

absl::Status RaftPersistentState::WriteHardStateLocked(const HardState& hard_state, bool sync) {
  WriteBatch batch;
  batch.Put(kHardStateKey, EncodeMessageRecord(hard_state));
  absl::Status status = storage_->Write(batch, sync);
  if (status.ok()) hard_state_ = hard_state;
  return status;
}

absl::Status RaftPersistentState::SetTermAndVote(uint64_t term, int64_t voted_for) {
  std::lock_guard<std::mutex> lock(mu_);
  if (term < hard_state_.current_term()) {
    return absl::FailedPreconditionError(
        absl::StrCat("RaftPersistentState: term cannot go back from ", hard_state_.current_term(),
                     " to ", term));
  }
  if (term == hard_state_.current_term() && hard_state_.voted_for() != kNoVote &&
      voted_for != hard_state_.voted_for()) {
    return absl::FailedPreconditionError(absl::StrCat("RaftPersistentState: already voted for ",
                                                      hard_state_.voted_for(), " in term ", term,
                                                      ", cannot change the vote to ", voted_for));
  }
  HardState next = hard_state_;
  next.set_current_term(term);
  next.set_voted_for(voted_for);
  return WriteHardStateLocked(next, sync_);
}

absl::Status RaftPersistentState::SetLastApplied(uint64_t last_applied) {
  std::lock_guard<std::mutex> lock(mu_);
  if (last_applied <= hard_state_.last_applied()) return absl::OkStatus();
  HardState next = hard_state_;
  next.set_last_applied(last_applied);
  return WriteHardStateLocked(next, /*sync=*/false);
}

HardState RaftPersistentState::hard_state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hard_state_;
}

uint64_t RaftPersistentState::current_term() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hard_state_.current_term();
}

int64_t RaftPersistentState::voted_for() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hard_state_.voted_for();
}

uint64_t RaftPersistentState::last_applied() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hard_state_.last_applied();
}

}  // namespace raft
}  // namespace resdb
