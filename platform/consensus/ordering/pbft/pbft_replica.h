#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_REPLICA_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_REPLICA_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "platform/consensus/ordering/pbft/checkpoint_tracker.h"
#include "platform/consensus/ordering/pbft/evidence.h"
#include "platform/consensus/ordering/pbft/message_validator.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/quorum_collector.h"
#include "platform/consensus/ordering/pbft/watermarks.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {

// The PbftConfig settings the normal case needs; the defaults are PbftConfig's.
struct PbftReplicaOptions {
  // Sequence numbers between checkpoints (> 0).
  uint64_t checkpoint_interval = 100;
  // Sequence numbers accepted above the stable checkpoint. Must be at least
  // checkpoint_interval, or the primary runs out of sequence numbers before the first
  // checkpoint can become stable.
  uint64_t watermark_window = 400;
  // Tick() calls without progress, while a pre-prepare this replica accepted is not yet
  // executed, before a backup starts a view change; also how long it waits for the NEWVIEW
  // of a view change before moving on to the next view (> 0).
  uint64_t view_change_timeout_ticks = 10;
  // Tick() calls without progress, while this replica has work outstanding (batches not
  // executed, a checkpoint not yet stable, a view change), before it sends its own messages
  // for that work again and, if it may be behind, asks its peers for what it missed (> 0).
  // Transport delivery is at most once; this is what makes a lost message harmless.
  uint64_t retransmit_ticks = 5;
  // Checks the signatures of the messages inside evidence another replica relays (the
  // PREPAREs of prepared certificates, the CHECKPOINTs of stable checkpoints).
  // Unset, as in plaintext setups without replica keys, that evidence is still checked for
  // form and consistency, but its signatures are not looked at: such a cluster does not
  // withstand a replica that forges evidence.
  SignatureCheck verify_signature;
  // Signs this replica's own CHECKPOINTs, which stand in the stable checkpoint proofs it
  // relays. Unset with verify_signature unset.
  SignatureMaker sign;
};

// What a replica restarts from: the durable records of its previous run (see Actions).
struct RestoredState {
  uint64_t view = 0;
  bool view_active = true;
  // ViewRecord::new_view: the serialized NEWVIEW this replica sent as primary of `view`.
  std::string new_view;
  StableCheckpoint stable;
  // The highest seq of the ledger: every seq up to it was released (and is executed or will
  // be executed again by the caller from its ledger).
  uint64_t last_committed = 0;
  // Slot records above the stable checkpoint, also those at or below `last_committed`: their
  // prepared certificates still count in a view change.
  std::vector<SlotRecord> slots;
};

// Work for the caller, produced by Propose(), Step() and OnExecuted() and drained with
// TakeActions().
//
// Durability contract: before sending any message of an Actions, the caller writes its
// durable part (view, slots, stable, and the `execute` batches as ledger entries) in one
// synced write. After a crash it rebuilds the replica with Restore() from those records.
struct Actions {
  // Send each of these to every other replica, in order.
  std::vector<Request> broadcast;
  // Send each message to the replica id it is paired with.
  std::vector<std::pair<int64_t, Request>> send;
  // Committed batches as (seq, batch data): contiguous, in seq order, continuing the
  // previous Actions' list. Run them in this order and report each with OnExecuted().
  std::vector<std::pair<uint64_t, std::string>> execute;
  // FETCH requests (TYPE_RECOVERY_DATA) of peers: for each, read the ledger from
  // fetch.seq() on and send FetchReply(fetch, batches) to fetch.sender_id().
  std::vector<Request> fetches;

  // Durable records to write: the latest view record if it changed, slot records (the
  // latest per seq wins), and the new stable checkpoint (ledger entries at or below it may
  // then be dropped except what peers still fetch).
  std::optional<ViewRecord> view_record;
  std::vector<SlotRecord> slots;
  std::optional<StableCheckpoint> stable;
};

// The normal case of PBFT (Castro and Liskov, OSDI 1999, section 4.2 to 4.3) as a
// deterministic state machine in the style of RaftNode: no threads, no clock, no I/O.
// The caller authenticates messages, feeds them to Step(), hands client batches to the
// primary's Propose(), sends what TakeActions() returns and reports executions back with
// OnExecuted().
//
// Replica ids are 1..n, f = (n-1)/3 and a quorum is 2f+1. The primary of view v is
// MessageValidator::PrimaryOf(v, n).
//
// View change (section 4.4), driven by Tick():
// - a backup holding an accepted, not yet executed pre-prepare (or told by Tick that client
//   requests wait) that sees no execution progress for view_change_timeout_ticks ticks moves
//   to view v+1 and broadcasts
//   VIEWCHANGE{view v+1, seq = stable checkpoint, data = ViewChange} with its prepared
//   certificates above the stable checkpoint. From then on it refuses messages of the old
//   view and PRE_PREPAREs of the new one (PREPARE / COMMIT of the new view are held) until
//   it enters the view through a NEWVIEW. Waiting a further
//   view_change_timeout_ticks without a NEWVIEW, while 2f+1 replicas are changing to v+1 or
//   a later view, moves it on to v+2, and so on.
// - f+1 VIEWCHANGEs for views above the replica's view make it join the smallest of them.
// - the primary of v+1, once it holds 2f+1 VIEWCHANGEs for v+1 (its own included), takes
//   min-s = the highest stable checkpoint among them and re-proposes every seq in
//   (min-s, max-s], max-s being the highest prepared seq: the batch of the certificate with
//   the highest view, or an empty batch (data "") where none is prepared. It broadcasts
//   NEWVIEW{data = NewView with those VIEWCHANGEs and PRE_PREPAREs} and enters the view.
// - certificates in a VIEWCHANGE and the PRE_PREPAREs of a NEWVIEW name batches by digest,
//   without their data, so that both stay small whatever the batches weigh. A replica
//   entering the view takes the data from what it accepted before (in any view above its
//   stable checkpoint); one that never had it votes on the digest and holds the batch back
//   until the data comes, from the primary's PRE_PREPARE sent again or from a FETCH answer
//   whose batch has that digest. At least f correct replicas that sent PREPAREs for a
//   certificate hold its data, so a re-proposed batch is never lost.
// - a backup accepts a NEWVIEW only from the primary of its view, with 2f+1 VIEWCHANGEs from
//   distinct replicas for that view, each well formed, and exactly the PRE_PREPAREs they
//   imply; it then enters the view and handles those PRE_PREPAREs normally. Seqs already
//   released for execution are not released again.
// - a prepared certificate in a VIEWCHANGE carries the signed PREPAREs it stands for
//   (CheckPreparedCertificate, with options.verify_signature): a replica cannot claim that
//   others prepared a batch they did not. A VIEWCHANGE with one bad certificate
//   is refused whole.
// - a NEWVIEW carries the VIEWCHANGEs it was built from as their senders signed them (the
//   primary's own is covered by its signature on the NEWVIEW): a backup checks every
//   signature before it believes that a quorum asked for the view and what they held.
// - the stable checkpoint a VIEWCHANGE names comes with the 2f+1 signed CHECKPOINTs that
//   made it stable (CheckStableCheckpoint): a replica cannot claim a later checkpoint to make
//   the new primary skip batches that may have committed.
//
// Loss and catch-up, driven by Tick():
// - every retransmit_ticks ticks without progress, a replica with outstanding work sends
//   again its own PRE_PREPARE / PREPARE / COMMIT for batches not yet released, its latest
//   CHECKPOINT while not stable, and its VIEWCHANGE while changing view; a primary that
//   receives a VIEWCHANGE for the view it already leads sends its NEWVIEW again.
// - a replica that may be behind (just restored; a stable checkpoint it has not reached;
//   batches pending without progress; a view change without a NEWVIEW; f+1 replicas seen in
//   a higher view or past its high watermark) broadcasts FETCH{seq = last released + 1}.
//   Peers answer with their view, stable checkpoint, highest released seq and the committed
//   batches from that seq on. A batch whose digest f+1 replies agree on is released for
//   execution; a stable checkpoint proven by its signed CHECKPOINTs (without replica keys:
//   one that f+1 replies agree on), once released up to it, becomes this replica's stable
//   checkpoint; a view that f+1 replies are active in, above this
//   replica's, is entered (the batches of that view this replica missed come through FETCH).
//
// Rules, per sequence number seq in the watermarks (low, high]:
// - pre-prepare: the primary assigns seq to a batch and broadcasts PRE_PREPARE{view, seq,
//   data, hash = BatchDigest(data)}. A backup accepts at most one digest per (view, seq);
//   on accepting it broadcasts PREPARE{view, seq, hash} and counts its own vote.
// - prepared: the pre-prepare plus 2f PREPAREs matching its digest from distinct backups
//   (the primary does not send PREPARE and a PREPARE claiming to come from it is refused).
//   On becoming prepared the replica broadcasts COMMIT{view, seq, hash} and counts its own.
// - committed-local: the pre-prepare plus 2f+1 COMMITs matching its digest from distinct
//   replicas. Committed batches are released for execution strictly in seq order: a
//   committed seq waits until every earlier seq has been released.
// - checkpoint: after executing a multiple of checkpoint_interval the replica broadcasts
//   CHECKPOINT{seq, hash = state digest} and counts its own. 2f+1 matching CHECKPOINTs make
//   the checkpoint stable; once this replica has released every seq up to it, the
//   watermarks move to it and all per-seq state at or below it is dropped.
// Votes may arrive before their pre-prepare; they are held and count once it arrives.
//
// Not thread-safe: the caller serializes all calls.
class PbftReplica {
 public:
  // `id` in 1..n, n >= 1.
  PbftReplica(int64_t id, int n, PbftReplicaOptions options = {});

  // Primary only: orders `batch_data` (a serialized BatchUserRequest) at the next sequence
  // number and broadcasts its PRE_PREPARE. FailedPrecondition on a backup;
  // ResourceExhausted, with nothing changed, while the next sequence number is above the
  // high watermark (retry after the next stable checkpoint).
  absl::Status Propose(std::string batch_data);

  // Handles a PRE_PREPARE, PREPARE, COMMIT or CHECKPOINT from another replica. A message
  // that is refused changes nothing and the status says why:
  // - whatever MessageValidator::Validate returns (type, sender, view, primary, watermarks,
  //   digest size, pre-prepare digest against its data);
  // - InvalidArgument for a message carrying this replica's own id, or a PREPARE from the
  //   primary;
  // - AlreadyExists for a PRE_PREPARE whose digest differs from the one already accepted
  //   at its (view, seq);
  // - InvalidArgument for a CHECKPOINT the CheckpointTracker refuses (not a multiple of
  //   the interval, at or below the stable checkpoint, too far ahead of it);
  // - FailedPrecondition for a PRE_PREPARE while a view change is in progress;
  // - InvalidArgument for a malformed VIEWCHANGE (bad certificate) or a NEWVIEW that does not
  //   follow from 2f+1 VIEWCHANGEs.
  // Repeats of a message already counted return OK and change nothing.
  // Also takes TYPE_RECOVERY_DATA (queued in Actions::fetches) and TYPE_RECOVERY_DATA_RESP.
  //
  // `envelope` is what `message` was parsed from: its bytes and the sender's signature as the
  // transport verified them. The replica keeps those of the PREPAREs and CHECKPOINTs it
  // counts as evidence for its prepared certificates and stable checkpoints. Without one (an empty
  // `data`), the message's own serialization stands in, unsigned.
  absl::Status Step(const Request& message,
                    const SignedMessage& envelope = SignedMessage::default_instance());

  // Before any other call: resumes from durable records. The replica asks its peers for
  // what it missed at the first Tick().
  void Restore(const RestoredState& state);

  // The answer to a peer's FETCH: this replica's view, stable checkpoint, highest released
  // seq and `batches` (the caller's ledger from fetch.seq() on, ascending, contiguous).
  Request FetchReply(const Request& fetch, std::vector<CommittedBatch> batches) const;

  // The executor has run `seq` (released earlier through Actions::execute) and the state
  // after it has digest `state_digest`. At a multiple of checkpoint_interval this
  // broadcasts CHECKPOINT and counts the replica's own vote. Ignores a seq that was never
  // released, and an empty `state_digest` (no checkpoint is taken).
  void OnExecuted(uint64_t seq, std::string state_digest);

  // One unit of time has passed; may start a view change (see the class comment).
  // `requests_waiting`: the caller holds client requests that are not executed yet, which,
  // like an accepted pre-prepare, makes a backup expect progress from the primary.
  void Tick(bool requests_waiting = false);

  // True if TakeActions() would return anything.
  bool HasActions() const;
  // Everything produced since the previous call.
  Actions TakeActions();

  int64_t id() const { return id_; }
  int replica_num() const { return n_; }
  uint64_t view() const { return view_; }
  int64_t primary() const { return MessageValidator::PrimaryOf(view_, n_); }
  bool is_primary() const { return primary() == id_; }
  // False between sending a VIEWCHANGE for view() and entering view() with a NEWVIEW.
  bool view_active() const { return view_active_; }
  // Matching messages needed to commit and to make a checkpoint stable: 2f+1.
  size_t quorum() const { return 2 * f_ + 1; }

  // The highest seq released through Actions::execute (every seq up to it was).
  uint64_t last_executable_seq() const { return last_executable_seq_; }
  // The highest seq reported with OnExecuted().
  uint64_t last_executed_seq() const { return last_executed_seq_; }
  // The highest seq the primary has assigned (0 before the first Propose, and on backups).
  uint64_t last_proposed_seq() const { return last_proposed_seq_; }
  // The stable checkpoint this replica has applied; equals low_watermark().
  uint64_t stable_checkpoint() const { return watermarks_.low(); }
  const CheckpointProof& stable_checkpoint_proof() const { return checkpoints_.stable_proof(); }
  uint64_t low_watermark() const { return watermarks_.low(); }
  uint64_t high_watermark() const { return watermarks_.high(); }
  // Sequence numbers for which any ordering state (a pre-prepare or votes) is held.
  size_t tracked_seq_count() const { return slots_.size(); }
  // Batches released through FETCH replies rather than this replica's own quorums.
  uint64_t fetched_batch_count() const { return fetched_batches_; }
  // FETCH requests this replica has broadcast.
  uint64_t fetch_request_count() const { return fetch_requests_; }

 private:
  // What the replica knows about one sequence number in the current view.
  struct Slot {
    bool has_pre_prepare = false;
    std::string digest;
    // Empty while missing: a NEWVIEW names re-proposed batches by digest, and a replica that
    // never received one votes for it and gets its data later (see MissingData).
    std::string data;
    bool prepared = false;   // COMMIT sent
    bool committed = false;  // committed-local
  };
  // The slot's batch is known by its digest only; it is not released until its data comes.
  static bool MissingData(const Slot& slot);

  absl::Status StepPrePrepare(const Request& message);
  absl::Status StepVote(const Request& message, const SignedMessage& envelope);
  absl::Status StepCheckpoint(const Request& message, const SignedMessage& envelope);
  absl::Status StepViewChange(const Request& message, const SignedMessage& envelope);
  absl::Status StepNewView(const Request& message);
  absl::Status StepFetch(const Request& message);
  absl::Status StepFetchReply(const Request& message);

  // Moves to `view` (not active) and broadcasts this replica's VIEWCHANGE for it.
  void StartViewChange(uint64_t view);
  // This replica's VIEWCHANGE for view_, from its stable checkpoint and prepared certificates.
  Request MakeViewChange() const;
  // Primary of view_ during its view change: sends NEWVIEW once 2f+1 VIEWCHANGEs are held.
  void MaybeSendNewView();
  // Checks a VIEWCHANGE's form and parses its payload.
  absl::Status ParseViewChange(const Request& message, ViewChange* out) const;
  // The PRE_PREPAREs of `view` implied by `view_changes` (already checked); `max_seq` gets
  // the highest seq covered (or min-s).
  std::vector<Request> Reproposals(uint64_t view, const std::vector<ViewChange>& view_changes,
                                   uint64_t* max_seq) const;
  void EnterView(uint64_t view, const std::vector<Request>& pre_prepares, uint64_t max_seq);
  bool HasPending() const;

  // Moves `seq` through prepared and committed-local as far as the votes held allow.
  void CheckPreparedAndCommitted(uint64_t seq);
  // Releases committed slots after last_executable_seq_ in order, then applies a stable
  // checkpoint that was waiting for them.
  void ReleaseCommitted();
  // Gives the slot at `seq`, which lacks its data, `data` if it is the batch of its digest.
  void FillMissingData(uint64_t seq, const std::string& data);
  // Records that the checkpoint of `proof` became stable; applies it once every seq up to
  // it is released.
  void OnStable(const CheckpointProof& proof);
  // Moves the watermarks to `proof`, which then backs this replica's VIEWCHANGEs and FETCH
  // replies, and drops the per-seq state it covers. A no-op unless above the low watermark.
  void ApplyStable(const CheckpointProof& proof);

  Request Message(Request::Type type, uint64_t seq, const std::string& hash) const;

  // Durable records (Actions::view_record / slots / stable).
  void RecordView();
  void RecordSlot(uint64_t seq, const Slot& slot);
  void RecordStable();

  // Loss and catch-up.
  // Work that needs other replicas' messages: batches not released, a checkpoint not yet
  // stable, a view change, or signs that other replicas are ahead.
  bool HasOutstandingWork(bool requests_waiting) const;
  void Retransmit();
  void RequestFetch();
  // Remembers senders whose messages show they are past this replica's view or window.
  void NoteAhead(const Request& message);
  // Replicas whose messages showed a view above this replica's, or a seq it has not
  // released yet that was above its high watermark when the message came.
  size_t PeersAhead() const;
  // Applies what f+1 FETCH replies agree on: batches, the stable checkpoint, the view.
  // Returns true if a batch was released.
  bool AdoptFromPeers();
  void AdoptStableFromPeers();
  void AdoptViewFromPeers();
  int64_t id_;
  int n_;
  size_t f_;
  PbftReplicaOptions options_;
  uint64_t view_ = 0;

  MessageValidator validator_;
  Watermarks watermarks_;
  // PREPARE votes, threshold 2f (backups only).
  QuorumCollector prepares_;
  // COMMIT votes, threshold 2f+1.
  QuorumCollector commits_;
  CheckpointTracker checkpoints_;

  std::map<uint64_t, Slot> slots_;
  // The data of batches accepted in earlier views, above the stable checkpoint: a later
  // NEWVIEW may re-propose one of them by digest. seq -> digest -> data, a few per seq.
  std::map<uint64_t, std::map<std::string, std::string>> earlier_batches_;
  // The signed PREPAREs counted by prepares_: seq -> (view, sender) -> message. Like the
  // collector, one per sender and (view, seq): its first.
  std::map<uint64_t, std::map<std::pair<uint64_t, int64_t>, SignedMessage>> prepare_evidence_;
  uint64_t last_proposed_seq_ = 0;
  uint64_t last_executable_seq_ = 0;
  uint64_t last_executed_seq_ = 0;
  // Stable checkpoints above last_executable_seq_, each applied once release reaches it.
  std::map<uint64_t, CheckpointProof> pending_stable_;

  // View change.
  bool view_active_ = true;
  uint64_t idle_ticks_ = 0;
  // The latest prepared certificate per seq above the stable checkpoint.
  std::map<uint64_t, PreparedCertificate> prepared_certs_;
  // A VIEWCHANGE and the envelope it came in (this replica's own: unsigned), which a NEWVIEW
  // relays as proof that its sender asked for the view.
  struct ReceivedViewChange {
    Request message;
    SignedMessage envelope;
  };
  // Each sender's latest VIEWCHANGE, by view (views at or above view_).
  std::map<uint64_t, std::map<int64_t, ReceivedViewChange>> view_changes_;
  ReceivedViewChange OwnViewChange(const Request& message) const;
  // The proof of the newest stable checkpoint applied to the watermarks (if known).
  CheckpointProof applied_proof_;
  // This replica's VIEWCHANGE for view_ while changing view, and the NEWVIEW it sent as
  // primary of view_; kept to send again.
  Request own_view_change_;
  Request own_new_view_;
  // This replica's latest CHECKPOINT; sent again until it is stable.
  Request own_checkpoint_;

  // Loss and catch-up.
  struct PeerReport {
    uint64_t view = 0;
    bool view_active = false;
    StableCheckpoint stable;
    uint64_t last_committed = 0;
  };
  struct FetchedBatch {
    std::set<int64_t> senders;
    std::string data;
  };
  // Each peer's latest FETCH reply.
  std::map<int64_t, PeerReport> peer_reports_;
  // Batches offered in FETCH replies above last_executable_seq_: seq -> digest -> offer.
  std::map<uint64_t, std::map<std::string, FetchedBatch>> fetched_;
  // Per sender: the highest view, and the highest seq above this replica's high watermark,
  // its messages showed. Kept until this replica is past them, so catching up part of the
  // way does not stop it asking for the rest.
  struct Ahead {
    uint64_t view = 0;
    uint64_t seq = 0;
  };
  std::map<int64_t, Ahead> ahead_;
  bool fetch_at_next_tick_ = false;
  uint64_t retransmit_idle_ticks_ = 0;
  // (last released seq, stable checkpoint, view, view active) at the last tick: progress is
  // any change of it.
  std::tuple<uint64_t, uint64_t, uint64_t, bool> progress_mark_;
  uint64_t fetched_batches_ = 0;
  uint64_t fetch_requests_ = 0;

  Actions actions_;
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_REPLICA_H_
