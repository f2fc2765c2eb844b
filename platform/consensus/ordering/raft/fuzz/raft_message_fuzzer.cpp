// RAFT messages arrive from any peer that reaches the replica's port. This target feeds a
// RaftNode (replica 1 of voters {1, 2, 3}) a run of hostile Requests, decoded the way
// ConsensusManagerRaft decodes them, mixed with ticks and local calls, and checks after each
// step the invariants that no input may break: the commit index stays within the log, applied
// entries follow each other, the term never goes back, and what a Ready asks to persist is
// what the durable RaftLog accepts (ConsensusManagerRaft stops the replica otherwise).
//
// Input: a sequence of operations, each an opcode byte then its operands (see FuzzInput):
//   0  tick `byte % 32` times
//   1  a message: sender byte % 5 (0 and 1, this node, are invalid), user_type byte % 11,
//      payload TakeBytes(); an InstallSnapshot that ConsensusManagerRaft would take restores
//      the node as if all its chunks had arrived
//   2  a whole serialized Request (TakeBytes()), as the transport hands it over
//   3  a local call: byte % 4 picks Campaign, Propose(TakeBytes()), ReadIndex, CompactTo

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/raft_rpc.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace raft {
namespace {

constexpr int64_t kSelf = 1;

void Check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "raft_message_fuzzer: invariant broken: %s\n", what);
  std::abort();
}

class Driver {
 public:
  Driver() : node_(Options()) {}

  void Run(fuzz::FuzzInput* input) {
    while (!input->empty()) {
      switch (input->TakeByte() % 4) {
        case 0:
          for (int ticks = input->TakeByte() % 32; ticks > 0; --ticks) node_.Tick();
          break;
        case 1: {
          Request request;
          request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
          request.set_sender_id(input->TakeByte() % 5);
          request.set_user_type(input->TakeByte() % 11);
          request.set_data(input->TakeBytes());
          Deliver(request);
          break;
        }
        case 2: {
          Request request;
          if (request.ParseFromString(input->TakeBytes())) Deliver(request);
          break;
        }
        case 3:
          LocalCall(input);
          break;
      }
      Drain();
    }
  }

 private:
  static RaftNodeOptions Options() {
    RaftNodeOptions options;
    options.id = kSelf;
    options.voters = {1, 2, 3};
    return options;
  }

  void Deliver(const Request& request) {
    absl::StatusOr<RaftMessage> message = RaftRpc::FromRequest(kSelf, request);
    if (!message.ok()) return;
    if (const auto* install = std::get_if<InstallSnapshotRequest>(&message->payload)) {
      // ConsensusManagerRaft takes the chunks from the leader it follows in this term, then
      // restores the node; here every chunk has arrived.
      if (install->term() == node_.term() && node_.leader_id() == message->from &&
          node_.role() != Role::kLeader &&
          install->metadata().last_included_index() > node_.commit_index()) {
        node_.RestoreSnapshot(install->metadata()).IgnoreError();
      }
      return;
    }
    node_.Step(*message).IgnoreError();
  }

  void LocalCall(fuzz::FuzzInput* input) {
    switch (input->TakeByte() % 4) {
      case 0:
        node_.Campaign().IgnoreError();
        break;
      case 1:
        node_.Propose(input->TakeBytes()).IgnoreError();
        break;
      case 2:
        node_.ReadIndex(input->TakeByte()).IgnoreError();
        break;
      case 3:
        node_.CompactTo(node_.applied_index()).IgnoreError();
        break;
    }
  }

  // The preconditions of RaftLog::CompactTo, Truncate and Append, on a model of the durable
  // log that holds the term of each index.
  void Persist(const Ready& ready) {
    if (ready.snapshot.has_value()) {
      const uint64_t index = ready.snapshot->last_included_index();
      const uint64_t term = ready.snapshot->last_included_term();
      Check(term >= boundary_term_, "snapshot terms do not decrease");
      Check(term <= node_.term(), "no snapshot is from a future term");
      if (index > boundary_index_) {
        if (index <= LastIndex() && terms_[index - boundary_index_ - 1] == term) {
          terms_.erase(terms_.begin(), terms_.begin() + (index - boundary_index_));
        } else {
          terms_.clear();
        }
        boundary_index_ = index;
        boundary_term_ = term;
        applied_ = index;
      }
    }
    if (ready.truncate_from != 0) {
      Check(ready.truncate_from > boundary_index_, "truncation stays above the snapshot");
      if (ready.truncate_from <= LastIndex()) {
        terms_.resize(ready.truncate_from - boundary_index_ - 1);
      }
    }
    for (const Entry& entry : ready.entries) {
      Check(entry.index() == LastIndex() + 1, "entries to persist follow the log");
      Check(entry.term() >= LastTerm(), "entries to persist do not decrease in term");
      Check(entry.term() <= node_.term(), "no entry to persist is from a future term");
      terms_.push_back(entry.term());
    }
  }

  uint64_t LastIndex() const { return boundary_index_ + terms_.size(); }
  uint64_t LastTerm() const { return terms_.empty() ? boundary_term_ : terms_.back(); }

  // What ConsensusManagerRaft does with a Ready, minus the I/O.
  void Drain() {
    while (node_.HasReady()) {
      Ready ready = node_.GetReady();
      Persist(ready);
      for (const Entry& entry : ready.committed_entries) {
        Check(entry.index() == applied_ + 1, "committed entries are handed out in order");
        applied_ = entry.index();
      }
      node_.Advance(ready);
    }
    Check(node_.term() >= term_, "the term never decreases");
    term_ = node_.term();
    Check(node_.commit_index() <= node_.last_index(), "commit index within the log");
    Check(node_.applied_index() <= node_.commit_index(), "applied index within commit index");
    Check(node_.first_index() <= node_.last_index() + 1, "log bounds ordered");
  }

  RaftNode node_;
  // The durable log: compacted up to (boundary_index_, boundary_term_), then terms_[i] is the
  // term of index boundary_index_ + 1 + i.
  uint64_t boundary_index_ = 0;
  uint64_t boundary_term_ = 0;
  std::vector<uint64_t> terms_;
  uint64_t applied_ = 0;
  uint64_t term_ = 0;
};

}  // namespace
}  // namespace raft
}  // namespace resdb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdb::fuzz::FuzzInput input(data, size);
  resdb::raft::Driver().Run(&input);
  return 0;
}
