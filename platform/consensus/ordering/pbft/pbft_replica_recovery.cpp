// PbftReplica: durable records, restart, retransmission and catch-up from peers.

#include <algorithm>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"

namespace resdb {
namespace pbft {

// ---- Durable records. ----

void PbftReplica::RecordView() {
  ViewRecord record;
  record.set_view(view_);
  record.set_active(view_active_);
  if (view_active_ && own_new_view_.type() == Request::TYPE_NEWVIEW &&
      own_new_view_.view() == view_) {
    own_new_view_.SerializeToString(record.mutable_new_view());
  }
  actions_.view_record = record;
}

void PbftReplica::RecordSlot(uint64_t seq, const Slot& slot) {
  SlotRecord record;
  // The certificate below carries the evidence; the batch is what was accepted.
  PreparedCertificate* batch = record.mutable_batch();
  batch->set_seq(seq);
  batch->set_view(view_);
  batch->set_digest(slot.digest);
  batch->set_data(slot.data);
  record.set_prepared(slot.prepared);
  auto cert = prepared_certs_.find(seq);
  if (cert != prepared_certs_.end()) *record.mutable_certificate() = cert->second;
  actions_.slots.push_back(std::move(record));
}

void PbftReplica::RecordStable() { actions_.stable = applied_proof_; }

void PbftReplica::Restore(const RestoredState& state) {
  view_ = state.view;
  view_active_ = state.view_active;
  if (state.stable.seq() > 0) {
    checkpoints_.AdoptStable(state.stable);
    watermarks_.Advance(state.stable.seq());
    applied_proof_ = checkpoints_.stable_proof();
  }
  last_executable_seq_ = std::max(state.last_committed, watermarks_.low());
  uint64_t highest_slot = last_executable_seq_;
  for (const SlotRecord& record : state.slots) {
    const PreparedCertificate& batch = record.batch();
    const uint64_t seq = batch.seq();
    if (!watermarks_.InWindow(seq)) continue;
    // Certificates of released seqs too: a VIEWCHANGE must still vouch for them.
    if (record.has_certificate()) prepared_certs_[seq] = record.certificate();
    if (seq <= last_executable_seq_ || batch.view() != view_) continue;
    // The votes this replica cast before the crash count again; other replicas' votes come
    // back through their retransmissions.
    Slot& slot = slots_[seq];
    slot.has_pre_prepare = true;
    slot.digest = batch.digest();
    slot.data = batch.data();
    slot.prepared = record.prepared();
    if (!is_primary()) prepares_.Add(view_, seq, slot.digest, id_);
    if (slot.prepared) commits_.Add(view_, seq, slot.digest, id_);
    highest_slot = std::max(highest_slot, seq);
  }
  if (is_primary()) last_proposed_seq_ = highest_slot;
  Request new_view;
  if (view_active_ && is_primary() && new_view.ParseFromString(state.new_view) &&
      new_view.type() == Request::TYPE_NEWVIEW && new_view.view() == view_) {
    own_new_view_ = std::move(new_view);
  }
  if (!view_active_) {
    own_view_change_ = MakeViewChange();
    view_changes_[view_][id_] = OwnViewChange(own_view_change_);
  }
  progress_mark_ = std::make_tuple(last_executable_seq_, watermarks_.low(), view_, view_active_);
  fetch_at_next_tick_ = true;
}

// ---- Retransmission. ----

bool PbftReplica::HasOutstandingWork(bool requests_waiting) const {
  if (requests_waiting || !view_active_ || !pending_stable_.empty() || PeersAhead() >= f_ + 1) {
    return true;
  }
  if (own_checkpoint_.seq() > watermarks_.low()) return true;
  // Anything held above the last released seq: a pre-prepare, or votes for one this replica
  // never saw.
  return slots_.upper_bound(last_executable_seq_) != slots_.end();
}

void PbftReplica::Retransmit() {
  if (!view_active_) {
    if (own_view_change_.view() == view_) actions_.broadcast.push_back(own_view_change_);
    return;
  }
  for (auto it = slots_.upper_bound(last_executable_seq_); it != slots_.end(); ++it) {
    const Slot& slot = it->second;
    if (!slot.has_pre_prepare) continue;
    if (is_primary()) {
      // Without its data the backups hold the digest from the NEWVIEW already.
      if (!MissingData(slot)) {
        Request pre_prepare = Message(Request::TYPE_PRE_PREPARE, it->first, slot.digest);
        pre_prepare.set_data(slot.data);
        actions_.broadcast.push_back(std::move(pre_prepare));
      }
    } else {
      actions_.broadcast.push_back(Message(Request::TYPE_PREPARE, it->first, slot.digest));
    }
    if (slot.prepared) {
      actions_.broadcast.push_back(Message(Request::TYPE_COMMIT, it->first, slot.digest));
    }
  }
  if (own_checkpoint_.seq() > watermarks_.low()) actions_.broadcast.push_back(own_checkpoint_);
}

void PbftReplica::NoteAhead(const Request& message) {
  if (message.sender_id() == id_) return;
  const bool ordering = message.type() == Request::TYPE_PRE_PREPARE ||
                        message.type() == Request::TYPE_PREPARE ||
                        message.type() == Request::TYPE_COMMIT;
  if (!ordering && message.type() != Request::TYPE_CHECKPOINT) return;
  const bool view_ahead = ordering && message.view() > view_;
  const bool seq_ahead = message.seq() > watermarks_.high();
  if (!view_ahead && !seq_ahead) return;
  Ahead& ahead = ahead_[message.sender_id()];
  if (view_ahead) ahead.view = std::max(ahead.view, message.view());
  if (seq_ahead) ahead.seq = std::max(ahead.seq, message.seq());
}

size_t PbftReplica::PeersAhead() const {
  size_t count = 0;
  for (const auto& [sender, ahead] : ahead_) {
    if (ahead.view > view_ || ahead.seq > last_executable_seq_) ++count;
  }
  return count;
}

// ---- Catch-up. ----

void PbftReplica::RequestFetch() {
  Request fetch = Message(Request::TYPE_RECOVERY_DATA, last_executable_seq_ + 1, "");
  actions_.broadcast.push_back(std::move(fetch));
  ++fetch_requests_;
}

absl::Status PbftReplica::StepFetch(const Request& message) {
  if (message.sender_id() == id_) {
    return absl::InvalidArgumentError("FETCH sender_id is this replica");
  }
  if (message.seq() == 0) return absl::InvalidArgumentError("FETCH seq: 0 is not a batch");
  // One pending answer per peer: a peer asking faster than it is answered gains nothing.
  for (const Request& pending : actions_.fetches) {
    if (pending.sender_id() == message.sender_id()) return absl::OkStatus();
  }
  actions_.fetches.push_back(message);
  return absl::OkStatus();
}

Request PbftReplica::FetchReply(const Request& fetch, std::vector<CommittedBatch> batches) const {
  pbft::FetchReply reply;
  reply.set_view(view_);
  reply.set_view_active(view_active_);
  *reply.mutable_stable() = applied_proof_;
  reply.set_last_committed(last_executable_seq_);
  for (CommittedBatch& batch : batches) *reply.add_batches() = std::move(batch);
  Request message = Message(Request::TYPE_RECOVERY_DATA_RESP, fetch.seq(), "");
  reply.SerializeToString(message.mutable_data());
  return message;
}

absl::Status PbftReplica::StepFetchReply(const Request& message) {
  const int64_t sender = message.sender_id();
  if (sender == id_) return absl::InvalidArgumentError("FETCH reply sender_id is this replica");
  pbft::FetchReply reply;
  if (!reply.ParseFromString(message.data())) {
    return absl::InvalidArgumentError(absl::StrCat("FETCH reply from ", sender, ": bad data"));
  }
  uint64_t expected = message.seq();
  for (const CommittedBatch& batch : reply.batches()) {
    if (batch.seq() != expected++) {
      return absl::InvalidArgumentError(absl::StrCat(
          "FETCH reply from ", sender, ": batches are not contiguous from ", message.seq()));
    }
  }
  PeerReport& report = peer_reports_[sender];
  report.view = reply.view();
  report.view_active = reply.view_active();
  // Checked once, on arrival, rather than at every adoption attempt: the signatures are the
  // expensive part.
  report.stable = CheckStableCheckpoint(reply.stable(), n_, options_.checkpoint_interval,
                                        options_.verify_signature)
                          .ok()
                      ? reply.stable()
                      : StableCheckpoint();
  report.last_committed = reply.last_committed();

  // Offers are held for a bounded span ahead, one digest per sender and seq.
  const uint64_t limit = last_executable_seq_ + 2 * watermarks_.window();
  for (const CommittedBatch& batch : reply.batches()) {
    if (batch.seq() <= last_executable_seq_) continue;
    if (batch.seq() > limit) break;
    // A batch this replica knows by digest only: its data proves itself.
    FillMissingData(batch.seq(), batch.data());
    std::map<std::string, FetchedBatch>& offers = fetched_[batch.seq()];
    bool offered = false;
    for (const auto& [digest, offer] : offers) offered |= offer.senders.count(sender) > 0;
    if (offered) continue;
    FetchedBatch& offer = offers[BatchDigest(batch.data())];
    if (offer.senders.empty()) offer.data = batch.data();
    offer.senders.insert(sender);
  }

  const bool released = AdoptFromPeers();
  if (released) {
    size_t further = 0;
    for (const auto& [peer, peer_report] : peer_reports_) {
      if (peer_report.last_committed > last_executable_seq_) ++further;
    }
    if (further >= f_ + 1) RequestFetch();
  }
  return absl::OkStatus();
}

bool PbftReplica::AdoptFromPeers() {
  bool released = false;
  for (auto it = fetched_.begin(); it != fetched_.end() && it->first == last_executable_seq_ + 1;
       it = fetched_.begin()) {
    const FetchedBatch* agreed = nullptr;
    for (const auto& [digest, offer] : it->second) {
      if (offer.senders.size() >= f_ + 1) agreed = &offer;
    }
    if (agreed == nullptr) break;
    actions_.execute.emplace_back(it->first, agreed->data);
    ++last_executable_seq_;
    ++fetched_batches_;
    idle_ticks_ = 0;
    released = true;
    fetched_.erase(it);
  }
  fetched_.erase(fetched_.begin(), fetched_.upper_bound(last_executable_seq_));
  if (released) {
    // Batches committed here locally may follow the fetched ones.
    ReleaseCommitted();
  }
  AdoptStableFromPeers();
  AdoptViewFromPeers();
  return released;
}

void PbftReplica::AdoptStableFromPeers() {
  // (seq, digest) -> the reports of it (their proofs were checked on arrival); the highest
  // checkpoint this replica has released up to that is proven by its signed CHECKPOINTs, or,
  // in a cluster without replica keys, that f+1 peers agree on.
  std::map<std::pair<uint64_t, std::string>, std::vector<const StableCheckpoint*>> agreeing;
  for (const auto& [peer, report] : peer_reports_) {
    const StableCheckpoint& stable = report.stable;
    if (stable.seq() <= watermarks_.low() || stable.seq() > last_executable_seq_) continue;
    agreeing[{stable.seq(), stable.digest()}].push_back(&stable);
  }
  const size_t needed = options_.verify_signature ? 1 : f_ + 1;
  for (auto it = agreeing.rbegin(); it != agreeing.rend(); ++it) {
    if (it->second.size() < needed) continue;
    const CheckpointProof proof = *it->second.front();
    checkpoints_.AdoptStable(proof);
    pending_stable_.erase(pending_stable_.begin(), pending_stable_.upper_bound(proof.seq()));
    ApplyStable(proof);
    return;
  }
}

void PbftReplica::AdoptViewFromPeers() {
  std::vector<uint64_t> active_views;
  for (const auto& [peer, report] : peer_reports_) {
    if (report.view_active) active_views.push_back(report.view);
  }
  if (active_views.size() < f_ + 1) return;
  // The (f+1)-th highest: at least one correct replica has entered this view or a later one.
  std::sort(active_views.begin(), active_views.end(), std::greater<uint64_t>());
  const uint64_t view = active_views[f_];
  if (view > view_ || (view == view_ && !view_active_)) {
    // The NEWVIEW's re-proposals this replica missed are committed by the others and come
    // back through FETCH.
    EnterView(view, {}, last_executable_seq_);
  }
}

}  // namespace pbft
}  // namespace resdb
