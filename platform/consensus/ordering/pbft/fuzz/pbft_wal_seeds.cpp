#include "absl/strings/str_cat.h"
#include "platform/common/fuzz/fuzz_input.h"
#include "platform/common/fuzz/seeds.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/storage/fuzz/stored_records.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace fuzz {
namespace {

// Key selectors of pbft_wal_fuzzer.
enum : uint8_t { kMeta = 0, kView = 1, kStable = 2, kSlot = 0x83, kLedger = 0x84 };

std::string Ledger(uint64_t seq) {
  pbft::CommittedBatch batch;
  batch.set_seq(seq);
  batch.set_data("batch " + std::to_string(seq));
  return batch.SerializeAsString();
}

std::string Wal(uint64_t view, bool active, uint64_t stable_seq) {
  std::string meta(1, 1);  // format version
  PutFixed64(&meta, stable_seq + 1);
  PutFixed64(&meta, stable_seq + 2);
  pbft::ViewRecord view_record;
  view_record.set_view(view);
  view_record.set_active(active);
  pbft::StableCheckpoint stable;
  stable.set_seq(stable_seq);
  stable.set_digest("digest");
  for (int64_t sender : {1, 2, 3}) stable.add_checkpoints()->set_signer(sender);
  pbft::SlotRecord slot;
  slot.mutable_batch()->set_seq(stable_seq + 3);
  slot.mutable_batch()->set_view(view);
  slot.mutable_batch()->set_data("batch 3");
  slot.mutable_batch()->set_digest(pbft::BatchDigest("batch 3"));
  slot.set_prepared(true);
  *slot.mutable_certificate() = slot.batch();
  // PREPAREs as the log keeps them (the fuzzer does not check their signatures).
  for (int64_t sender : {3, 4}) {
    pbft::SignedMessage* prepare = slot.mutable_certificate()->add_prepares();
    prepare->set_data(absl::StrCat("prepare of replica ", sender));
    prepare->set_signer(sender);
    prepare->set_signature(std::string(64, 's'));
  }
  FuzzInputWriter out;
  AddStoredRecords({{kMeta, 0, meta},
                    {kView, 0, view_record.SerializeAsString()},
                    {kStable, 0, stable.SerializeAsString()},
                    {kSlot, stable_seq + 3, slot.SerializeAsString()},
                    {kLedger, stable_seq + 1, Ledger(stable_seq + 1)},
                    {kLedger, stable_seq + 2, Ledger(stable_seq + 2)}},
                   &out);
  out.AddByte(1);  // replica 2
  out.AddByte(1).AddUint64(stable_seq + 1);
  return out.data();
}

}  // namespace

std::map<std::string, std::vector<std::string>> Seeds() {
  return {
      {"pbft_wal_fuzzer", {Wal(0, true, 0), Wal(1, false, 2), Wal(5, true, 4)}},
  };
}

}  // namespace fuzz
}  // namespace resdb
