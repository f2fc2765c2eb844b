// PbftReplica: view change (timeouts, VIEWCHANGE, NEWVIEW, entering a view).

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"

namespace resdb {
namespace pbft {

bool PbftReplica::HasPending() const {
  for (auto it = slots_.upper_bound(last_executable_seq_); it != slots_.end(); ++it) {
    if (it->second.has_pre_prepare) return true;
  }
  return false;
}

void PbftReplica::Tick(bool requests_waiting) {
  // Loss: send own messages again and look for missed batches before the view-change timer
  // (which is longer) blames the primary.
  const auto mark = std::make_tuple(last_executable_seq_, watermarks_.low(), view_, view_active_);
  if (mark != progress_mark_) {
    progress_mark_ = mark;
    retransmit_idle_ticks_ = 0;
  } else if (HasOutstandingWork(requests_waiting) &&
             ++retransmit_idle_ticks_ >= std::max<uint64_t>(options_.retransmit_ticks, 1)) {
    retransmit_idle_ticks_ = 0;
    Retransmit();
    fetch_at_next_tick_ = true;
  }
  if (fetch_at_next_tick_) {
    fetch_at_next_tick_ = false;
    RequestFetch();
  }

  const uint64_t timeout = std::max<uint64_t>(options_.view_change_timeout_ticks, 1);
  if (view_active_ && (is_primary() || (!HasPending() && !requests_waiting))) {
    idle_ticks_ = 0;
    return;
  }
  if (!view_active_) {
    // Moving on to the next view without a NEWVIEW is only worth it when a quorum is
    // changing too; a replica alone (cut off, or restarted into an old view) waits and
    // catches up instead of running ahead of everyone. Replicas already changing to a later
    // view count: otherwise a quorum split across two views, short of one replica whose
    // VIEWCHANGEs are refused, would wait for ever.
    std::set<int64_t> changing;
    for (auto it = view_changes_.lower_bound(view_); it != view_changes_.end(); ++it) {
      for (const auto& [sender, unused] : it->second) changing.insert(sender);
    }
    if (changing.size() < quorum()) {
      idle_ticks_ = 0;
      return;
    }
  }
  if (++idle_ticks_ >= timeout) StartViewChange(view_ + 1);
}

void PbftReplica::StartViewChange(uint64_t view) {
  view_ = view;
  view_active_ = false;
  idle_ticks_ = 0;
  RecordView();

  Request message = MakeViewChange();
  view_changes_.erase(view_changes_.begin(), view_changes_.lower_bound(view));
  for (auto& [v, by_sender] : view_changes_) by_sender.erase(id_);
  view_changes_[view][id_] = OwnViewChange(message);
  own_view_change_ = message;
  actions_.broadcast.push_back(std::move(message));
  MaybeSendNewView();
}

PbftReplica::ReceivedViewChange PbftReplica::OwnViewChange(const Request& message) const {
  ReceivedViewChange own{message, SignedMessage()};
  message.SerializeToString(own.envelope.mutable_data());
  own.envelope.set_signer(id_);
  return own;
}

Request PbftReplica::MakeViewChange() const {
  ViewChange vc;
  vc.set_stable_seq(applied_proof_.seq());
  vc.set_stable_digest(applied_proof_.digest());
  *vc.mutable_checkpoints() = applied_proof_.checkpoints();
  for (auto it = prepared_certs_.upper_bound(applied_proof_.seq()); it != prepared_certs_.end();
       ++it) {
    PreparedCertificate* cert = vc.add_prepared();
    *cert = it->second;
    // By digest: the PREPAREs prove it, and the data could make the message too large.
    cert->clear_data();
    cert->clear_pre_prepare();
  }
  Request message = Message(Request::TYPE_VIEWCHANGE, applied_proof_.seq(), "");
  vc.SerializeToString(message.mutable_data());
  return message;
}

absl::Status PbftReplica::ParseViewChange(const Request& message, ViewChange* out) const {
  const int64_t sender = message.sender_id();
  if (message.view() == 0) {
    return absl::InvalidArgumentError("VIEWCHANGE view: 0 cannot be changed to");
  }
  if (!out->ParseFromString(message.data())) {
    return absl::InvalidArgumentError(absl::StrCat("VIEWCHANGE from ", sender, ": bad data"));
  }
  const uint64_t stable = out->stable_seq();
  if (stable != message.seq()) {
    return absl::InvalidArgumentError(absl::StrCat("VIEWCHANGE from ", sender,
                                                   ": stable checkpoint ", stable,
                                                   " is not the message's seq ", message.seq()));
  }
  StableCheckpoint proof;
  proof.set_seq(stable);
  proof.set_digest(out->stable_digest());
  *proof.mutable_checkpoints() = out->checkpoints();
  absl::Status proven =
      CheckStableCheckpoint(proof, n_, options_.checkpoint_interval, options_.verify_signature);
  if (!proven.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("VIEWCHANGE from ", sender, ": ", proven.message()));
  }
  uint64_t previous = stable;
  for (const PreparedCertificate& cert : out->prepared()) {
    if (cert.seq() <= previous || cert.seq() > stable + options_.watermark_window ||
        cert.view() >= message.view()) {
      return absl::InvalidArgumentError(
          absl::StrCat("VIEWCHANGE from ", sender, ": prepared certificate for seq ", cert.seq(),
                       " view ", cert.view(), " is out of order or range"));
    }
    proven = CheckPreparedCertificate(cert, sender, n_, options_.verify_signature);
    if (!proven.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("VIEWCHANGE: ", proven.message()));
    }
    previous = cert.seq();
  }
  return absl::OkStatus();
}

absl::Status PbftReplica::StepViewChange(const Request& message, const SignedMessage& envelope) {
  ViewChange vc;
  absl::Status parsed = ParseViewChange(message, &vc);
  if (!parsed.ok()) return parsed;
  const uint64_t view = message.view();
  const int64_t sender = message.sender_id();
  if (view == view_ && view_active_) {
    // The sender missed the NEWVIEW of a view this replica leads.
    if (is_primary() && own_new_view_.view() == view_ && own_new_view_.type() != 0) {
      actions_.send.emplace_back(sender, own_new_view_);
    }
    return absl::OkStatus();
  }

  // One VIEWCHANGE per sender: its highest view.
  for (auto& [v, by_sender] : view_changes_) {
    if (v > view && by_sender.count(sender)) return absl::OkStatus();
  }
  for (auto& [v, by_sender] : view_changes_) {
    if (v < view) by_sender.erase(sender);
  }
  view_changes_[view].emplace(sender, ReceivedViewChange{message, envelope});

  // f+1 replicas are past this replica's view: at least one correct one timed out.
  std::set<int64_t> ahead;
  uint64_t smallest = 0;
  for (auto& [v, by_sender] : view_changes_) {
    if (v <= view_ || by_sender.empty()) continue;
    if (smallest == 0) smallest = v;
    for (auto& [s, unused] : by_sender) ahead.insert(s);
  }
  if (ahead.size() >= f_ + 1) {
    StartViewChange(smallest);
    return absl::OkStatus();
  }
  if (view == view_) MaybeSendNewView();
  return absl::OkStatus();
}

std::vector<Request> PbftReplica::Reproposals(uint64_t view,
                                              const std::vector<ViewChange>& view_changes,
                                              uint64_t* max_seq) const {
  uint64_t min_s = 0;
  for (const ViewChange& vc : view_changes) min_s = std::max(min_s, vc.stable_seq());
  std::map<uint64_t, const PreparedCertificate*> best;
  for (const ViewChange& vc : view_changes) {
    for (const PreparedCertificate& cert : vc.prepared()) {
      if (cert.seq() <= min_s) continue;
      auto [it, inserted] = best.emplace(cert.seq(), &cert);
      if (!inserted && cert.view() > it->second->view()) it->second = &cert;
    }
  }
  *max_seq = best.empty() ? min_s : best.rbegin()->first;
  std::vector<Request> out;
  for (uint64_t seq = min_s + 1; seq <= *max_seq; ++seq) {
    auto it = best.find(seq);
    Request pre_prepare;
    pre_prepare.set_type(Request::TYPE_PRE_PREPARE);
    pre_prepare.set_sender_id(MessageValidator::PrimaryOf(view, n_));
    pre_prepare.set_view(view);
    pre_prepare.set_seq(seq);
    pre_prepare.set_hash(it == best.end() ? NullBatchDigest() : it->second->digest());
    out.push_back(std::move(pre_prepare));
  }
  return out;
}

void PbftReplica::MaybeSendNewView() {
  if (view_active_ || !is_primary()) return;
  auto found = view_changes_.find(view_);
  if (found == view_changes_.end() || found->second.size() < quorum()) return;
  const std::map<int64_t, ReceivedViewChange>& by_sender = found->second;
  if (!by_sender.count(id_)) return;

  // Its own VIEWCHANGE and the first 2f others by id.
  std::vector<const ReceivedViewChange*> chosen = {&by_sender.at(id_)};
  for (const auto& [sender, received] : by_sender) {
    if (chosen.size() >= quorum()) break;
    if (sender != id_) chosen.push_back(&received);
  }
  NewView nv;
  std::vector<ViewChange> vcs;
  for (const ReceivedViewChange* received : chosen) {
    *nv.add_view_changes() = received->envelope;
    vcs.emplace_back();
    vcs.back().ParseFromString(received->message.data());
  }
  uint64_t max_seq = 0;
  std::vector<Request> pre_prepares = Reproposals(view_, vcs, &max_seq);
  for (const Request& pre_prepare : pre_prepares) {
    *nv.add_pre_prepares() = pre_prepare.SerializeAsString();
  }
  Request message = Message(Request::TYPE_NEWVIEW, 0, "");
  nv.SerializeToString(message.mutable_data());
  own_new_view_ = message;
  actions_.broadcast.push_back(std::move(message));
  EnterView(view_, pre_prepares, max_seq);
}

absl::Status PbftReplica::StepNewView(const Request& message) {
  const uint64_t view = message.view();
  if (view == view_ && view_active_) return absl::OkStatus();  // already in it
  if (view == 0) return absl::InvalidArgumentError("NEWVIEW view: 0 cannot be changed to");
  NewView nv;
  if (!nv.ParseFromString(message.data())) {
    return absl::InvalidArgumentError("NEWVIEW: bad data");
  }
  std::set<int64_t> senders;
  std::vector<ViewChange> vcs;
  for (int i = 0; i < nv.view_changes_size(); ++i) {
    const SignedMessage& envelope = nv.view_changes(i);
    Request vc_message;
    // The primary's own VIEWCHANGE is vouched for by the NEWVIEW, which the caller
    // authenticated; every other one must carry its sender's signature.
    const SignatureCheck& verify =
        envelope.signer() == message.sender_id() ? SignatureCheck() : options_.verify_signature;
    absl::Status opened = OpenSigned(envelope, n_, verify, &vc_message);
    if (!opened.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("NEWVIEW: view change ", i, ": ", opened.message()));
    }
    if (vc_message.type() != Request::TYPE_VIEWCHANGE || vc_message.view() != view ||
        !senders.insert(vc_message.sender_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "NEWVIEW: view change ", i, " is not a distinct VIEWCHANGE for view ", view));
    }
    vcs.emplace_back();
    absl::Status parsed = ParseViewChange(vc_message, &vcs.back());
    if (!parsed.ok()) return parsed;
  }
  if (senders.size() < quorum()) {
    return absl::InvalidArgumentError(
        absl::StrCat("NEWVIEW: ", senders.size(), " view changes, need ", quorum()));
  }
  uint64_t max_seq = 0;
  std::vector<Request> expected = Reproposals(view, vcs, &max_seq);
  if (static_cast<size_t>(nv.pre_prepares_size()) != expected.size()) {
    return absl::InvalidArgumentError(absl::StrCat("NEWVIEW: ", nv.pre_prepares_size(),
                                                   " re-proposals, expected ", expected.size()));
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    Request got;
    const Request& want = expected[i];
    if (!got.ParseFromString(nv.pre_prepares(static_cast<int>(i))) || got.type() != want.type() ||
        got.sender_id() != want.sender_id() || got.view() != want.view() ||
        got.seq() != want.seq() || got.data() != want.data() || got.hash() != want.hash()) {
      return absl::InvalidArgumentError(
          absl::StrCat("NEWVIEW: re-proposal for seq ", want.seq(), " does not match"));
    }
  }
  EnterView(view, expected, max_seq);
  return absl::OkStatus();
}

void PbftReplica::EnterView(uint64_t view, const std::vector<Request>& pre_prepares,
                            uint64_t max_seq) {
  view_ = view;
  view_active_ = true;
  idle_ticks_ = 0;
  RecordView();
  view_changes_.erase(view_changes_.begin(), view_changes_.upper_bound(view));
  // Pre-prepares of earlier views go, their batches kept for a later NEWVIEW that may name
  // them; votes already held for this view stay.
  constexpr size_t kEarlierBatchesPerSeq = 4;
  for (auto it = slots_.begin(); it != slots_.end();) {
    const Slot& slot = it->second;
    if (!slot.has_pre_prepare) {
      ++it;
      continue;
    }
    if (it->first > watermarks_.low() && !MissingData(slot)) {
      std::map<std::string, std::string>& kept = earlier_batches_[it->first];
      if (kept.size() < kEarlierBatchesPerSeq || kept.count(slot.digest)) {
        kept[slot.digest] = slot.data;
      }
    }
    it = slots_.erase(it);
  }
  auto known_data = [this](uint64_t seq, const std::string& digest) -> const std::string* {
    auto cert = prepared_certs_.find(seq);
    if (cert != prepared_certs_.end() && cert->second.digest() == digest &&
        !cert->second.data().empty()) {
      return &cert->second.data();
    }
    auto earlier = earlier_batches_.find(seq);
    if (earlier == earlier_batches_.end()) return nullptr;
    auto batch = earlier->second.find(digest);
    return batch == earlier->second.end() ? nullptr : &batch->second;
  };
  for (auto& [seq, by_vote] : prepare_evidence_) {
    by_vote.erase(by_vote.begin(), by_vote.lower_bound({view, 0}));
  }
  last_proposed_seq_ = is_primary() ? std::max(max_seq, watermarks_.low()) : 0;
  for (Request pre_prepare : pre_prepares) {
    if (!watermarks_.InWindow(pre_prepare.seq())) continue;
    const std::string* data = known_data(pre_prepare.seq(), pre_prepare.hash());
    if (data != nullptr) pre_prepare.set_data(*data);
    if (is_primary()) {
      Slot& slot = slots_[pre_prepare.seq()];
      slot.has_pre_prepare = true;
      slot.digest = pre_prepare.hash();
      slot.data = pre_prepare.data();
      RecordSlot(pre_prepare.seq(), slot);
      CheckPreparedAndCommitted(pre_prepare.seq());
    } else {
      StepPrePrepare(pre_prepare).IgnoreError();
    }
  }
}

}  // namespace pbft
}  // namespace resdb
