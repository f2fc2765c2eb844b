#include "platform/consensus/ordering/pbft/pbft_replica.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"

namespace resdb {
namespace pbft {
namespace {

size_t FaultsTolerated(int n) { return n > 0 ? static_cast<size_t>((n - 1) / 3) : 0; }

}  // namespace

PbftReplica::PbftReplica(int64_t id, int n, PbftReplicaOptions options)
    : id_(id),
      n_(n),
      f_(FaultsTolerated(n)),
      options_(options),
      validator_(n),
      watermarks_(options.watermark_window),
      // A threshold of 0 (n < 4) would never be reported by Add(); readiness is checked
      // with MatchingVotes() against 2f instead, so the collector only needs a valid value.
      prepares_(std::max<size_t>(2 * f_, 1), &watermarks_),
      commits_(2 * f_ + 1, &watermarks_),
      checkpoints_(options.checkpoint_interval, 2 * f_ + 1, options.watermark_window) {}

Request PbftReplica::Message(Request::Type type, uint64_t seq, const std::string& hash) const {
  Request message;
  message.set_type(type);
  message.set_sender_id(id_);
  message.set_view(view_);
  message.set_seq(seq);
  message.set_hash(hash);
  return message;
}

absl::Status PbftReplica::Propose(std::string batch_data) {
  if (!view_active_) {
    return absl::FailedPreconditionError(
        absl::StrCat("replica ", id_, " is changing to view ", view_));
  }
  if (!is_primary()) {
    return absl::FailedPreconditionError(
        absl::StrCat("replica ", id_, " is not the primary ", primary(), " of view ", view_));
  }
  const uint64_t seq = last_proposed_seq_ + 1;
  if (!watermarks_.InWindow(seq)) {
    return absl::ResourceExhaustedError(absl::StrCat("seq ", seq, " is above the high watermark ",
                                                     watermarks_.high(),
                                                     "; waiting for a stable checkpoint"));
  }
  last_proposed_seq_ = seq;

  Request pre_prepare = Message(Request::TYPE_PRE_PREPARE, seq, BatchDigest(batch_data));
  pre_prepare.set_data(std::move(batch_data));

  Slot& slot = slots_[seq];
  slot.has_pre_prepare = true;
  slot.digest = pre_prepare.hash();
  slot.data = pre_prepare.data();
  RecordSlot(seq, slot);
  actions_.broadcast.push_back(std::move(pre_prepare));
  CheckPreparedAndCommitted(seq);
  return absl::OkStatus();
}

absl::Status PbftReplica::Step(const Request& message, const SignedMessage& envelope) {
  if (message.sender_id() < 1 || message.sender_id() > n_) {
    return absl::InvalidArgumentError(
        absl::StrCat("sender_id: ", message.sender_id(), " is not a replica id in 1..", n_));
  }
  if (message.type() == Request::TYPE_RECOVERY_DATA) return StepFetch(message);
  if (message.type() == Request::TYPE_RECOVERY_DATA_RESP) return StepFetchReply(message);
  NoteAhead(message);
  absl::Status valid = validator_.Validate(message, view_, watermarks_);
  if (!valid.ok()) return valid;
  if (message.sender_id() == id_) {
    return absl::InvalidArgumentError(
        absl::StrCat("sender_id: ", id_, " is this replica; its own votes are already counted"));
  }
  if (message.type() == Request::TYPE_PRE_PREPARE && !view_active_) {
    return absl::FailedPreconditionError(
        absl::StrCat("view ", view_, " has not started: waiting for its NEWVIEW"));
  }
  SignedMessage evidence;
  if (message.type() == Request::TYPE_PREPARE || message.type() == Request::TYPE_VIEWCHANGE ||
      message.type() == Request::TYPE_CHECKPOINT) {
    if (envelope.data().empty()) {
      message.SerializeToString(evidence.mutable_data());
      evidence.set_signer(message.sender_id());
    } else {
      evidence = envelope;
    }
  }
  switch (message.type()) {
    case Request::TYPE_PRE_PREPARE:
      return StepPrePrepare(message);
    case Request::TYPE_VIEWCHANGE:
      return StepViewChange(message, evidence);
    case Request::TYPE_NEWVIEW:
      return StepNewView(message);
    case Request::TYPE_PREPARE:
    case Request::TYPE_COMMIT:
      return StepVote(message, evidence);
    case Request::TYPE_CHECKPOINT:
      return StepCheckpoint(message, evidence);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("type: ", Request::Type_Name(message.type()), " is not a PBFT message"));
  }
}

bool PbftReplica::MissingData(const Slot& slot) {
  return slot.has_pre_prepare && slot.data.empty() && slot.digest != NullBatchDigest();
}

absl::Status PbftReplica::StepPrePrepare(const Request& message) {
  const uint64_t seq = message.seq();
  auto it = slots_.find(seq);
  if (it != slots_.end() && it->second.has_pre_prepare) {
    if (it->second.digest != message.hash()) {
      return absl::AlreadyExistsError(absl::StrCat("PRE_PREPARE seq: ", seq, " in view ", view_,
                                                   " already has a different digest"));
    }
    // A repeat; from the primary, the data of a batch a NEWVIEW named by digest only.
    if (MissingData(it->second)) FillMissingData(seq, message.data());
    return absl::OkStatus();
  }
  // The validator has checked that the sender is the primary and the digest names data;
  // re-proposals of a NEWVIEW come here with the data this replica had, if any.
  Slot& slot = slots_[seq];
  slot.has_pre_prepare = true;
  slot.digest = message.hash();
  slot.data = message.data();
  RecordSlot(seq, slot);

  actions_.broadcast.push_back(Message(Request::TYPE_PREPARE, seq, slot.digest));
  prepares_.Add(view_, seq, slot.digest, id_);
  CheckPreparedAndCommitted(seq);
  return absl::OkStatus();
}

absl::Status PbftReplica::StepVote(const Request& message, const SignedMessage& envelope) {
  const bool prepare = message.type() == Request::TYPE_PREPARE;
  if (prepare && message.sender_id() == primary()) {
    return absl::InvalidArgumentError(absl::StrCat("PREPARE sender_id: ", message.sender_id(),
                                                   " is the primary, which does not prepare"));
  }
  const uint64_t seq = message.seq();
  QuorumCollector& collector = prepare ? prepares_ : commits_;
  // Inside the watermarks and above everything collected (the validator checked the
  // window and GC follows the low watermark), so the collector holds the vote; repeats
  // and conflicting votes are counted there and otherwise ignored.
  collector.Add(view_, seq, message.hash(), message.sender_id());
  if (prepare && watermarks_.InWindow(seq)) {
    prepare_evidence_[seq].try_emplace({view_, message.sender_id()}, envelope);
  }
  slots_.try_emplace(seq);
  CheckPreparedAndCommitted(seq);
  return absl::OkStatus();
}

absl::Status PbftReplica::StepCheckpoint(const Request& message, const SignedMessage& envelope) {
  const uint64_t refused_before = checkpoints_.refused_count();
  std::optional<uint64_t> stable =
      checkpoints_.Add(message.seq(), message.hash(), message.sender_id(), envelope);
  if (checkpoints_.refused_count() != refused_before) {
    return absl::InvalidArgumentError(
        absl::StrCat("CHECKPOINT seq: ", message.seq(), " is refused (interval ",
                     options_.checkpoint_interval, ", stable checkpoint ",
                     checkpoints_.stable_seq(), ", window ", options_.watermark_window, ")"));
  }
  if (stable.has_value()) OnStable(checkpoints_.stable_proof());
  return absl::OkStatus();
}

void PbftReplica::CheckPreparedAndCommitted(uint64_t seq) {
  auto it = slots_.find(seq);
  if (it == slots_.end()) return;
  Slot& slot = it->second;
  if (!slot.has_pre_prepare) return;

  if (!slot.prepared && prepares_.MatchingVotes(view_, seq, slot.digest) >= 2 * f_) {
    slot.prepared = true;
    actions_.broadcast.push_back(Message(Request::TYPE_COMMIT, seq, slot.digest));
    commits_.Add(view_, seq, slot.digest, id_);
    PreparedCertificate& cert = prepared_certs_[seq];
    cert.set_seq(seq);
    cert.set_view(view_);
    cert.set_digest(slot.digest);
    cert.set_data(slot.data);
    cert.clear_prepares();
    // This replica's own PREPARE is vouched for by the VIEWCHANGE it will sign.
    const auto& evidence = prepare_evidence_[seq];
    for (int64_t sender : prepares_.Voters(view_, seq, slot.digest)) {
      auto signed_prepare = evidence.find({view_, sender});
      if (sender != id_ && signed_prepare != evidence.end()) {
        *cert.add_prepares() = signed_prepare->second;
      }
    }
    RecordSlot(seq, slot);
  }
  // Committed-local needs the pre-prepare and 2f+1 matching COMMITs: at least f+1 correct
  // replicas are prepared for this digest, so no other digest can commit at (view, seq).
  if (!slot.committed && commits_.MatchingVotes(view_, seq, slot.digest) >= 2 * f_ + 1) {
    slot.committed = true;
    // The replicas that had the batch execute it now; ask them for it.
    if (MissingData(slot)) fetch_at_next_tick_ = true;
    ReleaseCommitted();
  }
}

void PbftReplica::FillMissingData(uint64_t seq, const std::string& data) {
  auto it = slots_.find(seq);
  if (it == slots_.end() || !MissingData(it->second) || BatchDigest(data) != it->second.digest) {
    return;
  }
  it->second.data = data;
  auto cert = prepared_certs_.find(seq);
  if (cert != prepared_certs_.end() && cert->second.digest() == it->second.digest) {
    cert->second.set_data(data);
  }
  RecordSlot(seq, it->second);
  ReleaseCommitted();
}

void PbftReplica::ReleaseCommitted() {
  for (auto it = slots_.find(last_executable_seq_ + 1);
       it != slots_.end() && it->first == last_executable_seq_ + 1 && it->second.committed &&
       !MissingData(it->second);
       it = slots_.find(last_executable_seq_ + 1)) {
    actions_.execute.emplace_back(it->first, it->second.data);
    ++last_executable_seq_;
    idle_ticks_ = 0;
  }
  // Apply the highest waiting stable checkpoint this replica has now caught up with.
  auto reached = pending_stable_.upper_bound(last_executable_seq_);
  if (reached != pending_stable_.begin()) {
    const CheckpointProof stable = std::prev(reached)->second;
    pending_stable_.erase(pending_stable_.begin(), reached);
    ApplyStable(stable);
  }
}

void PbftReplica::OnExecuted(uint64_t seq, std::string state_digest) {
  if (seq == 0 || seq > last_executable_seq_) return;
  last_executed_seq_ = std::max(last_executed_seq_, seq);
  const uint64_t interval = options_.checkpoint_interval;
  if (interval == 0 || seq % interval != 0 || seq <= checkpoints_.stable_seq() ||
      state_digest.empty()) {
    return;
  }

  Request checkpoint = Message(Request::TYPE_CHECKPOINT, seq, state_digest);
  own_checkpoint_ = checkpoint;
  // Signed here too, so that this vote can stand in a proof other replicas check.
  SignedMessage signed_checkpoint;
  checkpoint.SerializeToString(signed_checkpoint.mutable_data());
  signed_checkpoint.set_signer(id_);
  if (options_.sign) signed_checkpoint.set_signature(options_.sign(signed_checkpoint.data()));
  actions_.broadcast.push_back(std::move(checkpoint));
  std::optional<uint64_t> stable = checkpoints_.Add(seq, state_digest, id_, signed_checkpoint);
  if (stable.has_value()) OnStable(checkpoints_.stable_proof());
}

void PbftReplica::OnStable(const CheckpointProof& proof) {
  if (proof.seq() <= last_executable_seq_) {
    ApplyStable(proof);
  } else {
    // A quorum is past this replica. The batches up to `seq` may still be committing here
    // (messages arrive in any order), so keep their state until they are released.
    pending_stable_[proof.seq()] = proof;
  }
}

void PbftReplica::ApplyStable(const CheckpointProof& proof) {
  const uint64_t seq = proof.seq();
  if (!watermarks_.Advance(seq)) return;
  // The tracker may already hold a newer stable checkpoint this replica has not reached;
  // what it vouches for must match its watermarks.
  applied_proof_ = proof;
  RecordStable();
  fetched_.erase(fetched_.begin(), fetched_.upper_bound(seq));
  prepares_.GarbageCollect(seq);
  commits_.GarbageCollect(seq);
  slots_.erase(slots_.begin(), slots_.upper_bound(seq));
  prepare_evidence_.erase(prepare_evidence_.begin(), prepare_evidence_.upper_bound(seq));
  prepared_certs_.erase(prepared_certs_.begin(), prepared_certs_.upper_bound(seq));
  earlier_batches_.erase(earlier_batches_.begin(), earlier_batches_.upper_bound(seq));
}

bool PbftReplica::HasActions() const {
  return !actions_.broadcast.empty() || !actions_.send.empty() || !actions_.execute.empty() ||
         !actions_.fetches.empty() || actions_.view_record.has_value() || !actions_.slots.empty() ||
         actions_.stable.has_value();
}

Actions PbftReplica::TakeActions() {
  Actions out = std::move(actions_);
  actions_ = Actions();
  return out;
}

}  // namespace pbft
}  // namespace resdb
