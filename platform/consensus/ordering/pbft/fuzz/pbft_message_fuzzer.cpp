// PBFT messages and the certificates inside them (VIEWCHANGE, NEWVIEW, FETCH replies) come
// from replicas that may be Byzantine. This target feeds one PbftReplica a run of hostile
// messages, checked by MessageValidator first as the replica does, mixed with ticks and
// proposals, and checks after each step what no input may break: batches are released for
// execution once each and in seq order, the view never goes back, and the write-ahead log
// takes every durable record the replica asks for (ConsensusManagerPBFT stops otherwise).
//
// Input: the replica's id byte (1 + byte % 4), then operations:
//   0  Tick(requests waiting: byte & 1), byte % 16 times
//   1  a message: type byte (one of kTypes), sender byte % 6, view byte % 4, seq byte % 24,
//      hash choice byte (0: BatchDigest(data), 1: TakeBytes(), 2: the state digest, else
//      none), then data TakeBytes()
//   2  a whole serialized Request (TakeBytes())
//   3  Propose(TakeBytes())

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/consensus/ordering/pbft/fuzz/pbft_fuzz_replica.h"
#include "platform/consensus/ordering/pbft/message_validator.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/pbft/pbft_wal.h"
#include "platform/consensus/ordering/pbft/watermarks.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace pbft {
namespace {

constexpr Request::Type kTypes[] = {Request::TYPE_PRE_PREPARE,   Request::TYPE_PREPARE,
                                    Request::TYPE_COMMIT,        Request::TYPE_CHECKPOINT,
                                    Request::TYPE_VIEWCHANGE,    Request::TYPE_NEWVIEW,
                                    Request::TYPE_RECOVERY_DATA, Request::TYPE_RECOVERY_DATA_RESP};

void Check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "pbft_message_fuzzer: invariant broken: %s\n", what);
  std::abort();
}

class Driver {
 public:
  explicit Driver(int64_t id)
      : replica_(id, kFuzzReplicas, FuzzReplicaOptions()),
        validator_(kFuzzReplicas),
        storage_(NewMemoryStorage()),
        wal_(std::move(PbftWal::Open(storage_.get(), /*sync=*/false).value())) {}

  void Run(fuzz::FuzzInput* input) {
    while (!input->empty()) {
      switch (input->TakeByte() % 4) {
        case 0: {
          const int ticks = input->TakeByte();
          for (int i = ticks % 16; i > 0; --i) replica_.Tick(ticks & 0x80);
          break;
        }
        case 1:
          Deliver(StructuredMessage(input));
          break;
        case 2: {
          Request message;
          if (message.ParseFromString(input->TakeBytes())) Deliver(message);
          break;
        }
        case 3:
          replica_.Propose(input->TakeBytes()).IgnoreError();
          break;
      }
      Drain();
    }
  }

 private:
  static Request StructuredMessage(fuzz::FuzzInput* input) {
    Request message;
    message.set_type(kTypes[input->TakeByte() % (sizeof(kTypes) / sizeof(kTypes[0]))]);
    message.set_sender_id(input->TakeByte() % 6);
    message.set_view(input->TakeByte() % 4);
    message.set_seq(input->TakeByte() % 24);
    const uint8_t hash = input->TakeByte();
    message.set_data(input->TakeBytes());
    if (hash == 0) message.set_hash(BatchDigest(message.data()));
    if (hash == 1) message.set_hash(input->TakeBytes());
    if (hash == 2) message.set_hash(kFuzzStateDigest);
    return message;
  }

  void Deliver(const Request& message) {
    // The validator on its own, against the replica's current view and window.
    Watermarks watermarks(replica_.high_watermark() - replica_.low_watermark());
    watermarks.Advance(replica_.low_watermark());
    validator_.Validate(message, replica_.view(), watermarks).IgnoreError();
    replica_.Step(message).IgnoreError();
  }

  // What ConsensusManagerPBFT does with Actions, minus the I/O: execute what is released and
  // answer FETCHes from an empty ledger.
  void Drain() {
    while (replica_.HasActions()) {
      Actions actions = replica_.TakeActions();
      Check(wal_->Write(actions.view_record, actions.slots, actions.stable, actions.execute).ok(),
            "the write-ahead log takes the durable part of every Actions");
      for (const Request& fetch : actions.fetches) replica_.FetchReply(fetch, {});
      for (const auto& [seq, data] : actions.execute) {
        Check(seq == executed_ + 1, "batches are released once each, in seq order");
        executed_ = seq;
        replica_.OnExecuted(seq, kFuzzStateDigest);
      }
    }
    Check(replica_.view() >= view_, "the view never decreases");
    view_ = replica_.view();
    Check(replica_.last_executable_seq() == executed_, "released seqs are all handed out");
    Check(replica_.low_watermark() <= replica_.high_watermark(), "watermarks ordered");
  }

  PbftReplica replica_;
  MessageValidator validator_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<PbftWal> wal_;
  uint64_t executed_ = 0;
  uint64_t view_ = 0;
};

}  // namespace
}  // namespace pbft
}  // namespace resdb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdb::fuzz::FuzzInput input(data, size);
  const int64_t id = 1 + input.TakeByte() % resdb::pbft::kFuzzReplicas;
  resdb::pbft::Driver(id).Run(&input);
  return 0;
}
