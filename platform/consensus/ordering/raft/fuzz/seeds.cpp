#include "platform/common/fuzz/seeds.h"

#include "platform/common/crypto/signature.h"
#include "platform/common/fuzz/fuzz_input.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_message_type.h"
#include "platform/proto/resdb.pb.h"
#include "platform/storage/fuzz/stored_records.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace fuzz {
namespace {

using raft::AppendEntriesRequest;
using raft::AppendEntriesResponse;
using raft::Entry;
using raft::SnapshotMetadata;

// raft_message_fuzzer's operations.
void Ticks(int count, FuzzInputWriter* out) { out->AddByte(0).AddByte(count); }
void Message(int sender, int user_type, const google::protobuf::Message& payload,
             FuzzInputWriter* out) {
  out->AddByte(1).AddByte(sender).AddByte(user_type).AddBytes(payload.SerializeAsString());
}

std::string FollowerRun() {
  FuzzInputWriter out;
  AppendEntriesRequest append;
  append.set_term(1);
  append.set_leader_id(2);
  for (uint64_t index = 1; index <= 3; ++index) {
    Entry* entry = append.add_entries();
    entry->set_term(1);
    entry->set_index(index);
    entry->set_data("set a " + std::to_string(index));
  }
  append.set_leader_commit(2);
  Message(2, raft::RAFT_APPEND_ENTRIES, append, &out);
  AppendEntriesRequest heartbeat;
  heartbeat.set_term(1);
  heartbeat.set_leader_id(2);
  heartbeat.set_prev_log_index(3);
  heartbeat.set_prev_log_term(1);
  heartbeat.set_leader_commit(3);
  heartbeat.set_read_context(1);
  Message(2, raft::RAFT_APPEND_ENTRIES, heartbeat, &out);
  raft::ReadIndexResponse read;
  read.set_term(1);
  read.set_context(4);
  read.set_read_index(3);
  read.set_success(true);
  read.set_leader_id(2);
  Message(2, raft::RAFT_READ_INDEX_RESPONSE, read, &out);
  raft::InstallSnapshotRequest install;
  install.set_term(1);
  install.set_leader_id(2);
  install.mutable_metadata()->set_last_included_index(10);
  install.mutable_metadata()->set_last_included_term(1);
  Message(2, raft::RAFT_INSTALL_SNAPSHOT, install, &out);
  heartbeat.set_prev_log_index(10);
  heartbeat.set_leader_commit(10);
  Message(2, raft::RAFT_APPEND_ENTRIES, heartbeat, &out);
  Ticks(5, &out);
  raft::TimeoutNow timeout;
  timeout.set_term(1);
  timeout.set_leader_id(2);
  Message(2, raft::RAFT_TIMEOUT_NOW, timeout, &out);
  return out.data();
}

std::string LeaderRun() {
  FuzzInputWriter out;
  Ticks(31, &out);
  for (bool pre_vote : {true, false}) {
    raft::RequestVoteResponse vote;
    vote.set_term(1);
    vote.set_voter_id(2);
    vote.set_vote_granted(true);
    vote.set_pre_vote(pre_vote);
    Message(2, raft::RAFT_REQUEST_VOTE_RESPONSE, vote, &out);
  }
  out.AddByte(3).AddByte(1).AddBytes("set b 1");  // Propose
  AppendEntriesResponse ack;
  ack.set_term(1);
  ack.set_follower_id(2);
  ack.set_success(true);
  ack.set_match_index(2);
  ack.set_last_log_index(2);
  ack.set_sequence(1);
  Message(2, raft::RAFT_APPEND_ENTRIES_RESPONSE, ack, &out);
  out.AddByte(3).AddByte(2).AddByte(9);  // ReadIndex
  raft::ReadIndexRequest read;
  read.set_term(1);
  read.set_from_id(3);
  read.set_context(7);
  Message(3, raft::RAFT_READ_INDEX, read, &out);
  raft::InstallSnapshotResponse installed;
  installed.set_term(1);
  installed.set_follower_id(3);
  installed.set_last_included_index(2);
  installed.set_next_offset(10);
  installed.set_done(true);
  Message(3, raft::RAFT_INSTALL_SNAPSHOT_RESPONSE, installed, &out);
  Ticks(12, &out);
  return out.data();
}

std::string VoterRun() {
  FuzzInputWriter out;
  raft::RequestVoteRequest vote;
  vote.set_term(5);
  vote.set_candidate_id(3);
  vote.set_last_log_index(4);
  vote.set_last_log_term(4);
  vote.set_pre_vote(true);
  Message(3, raft::RAFT_REQUEST_VOTE, vote, &out);
  vote.set_pre_vote(false);
  Request request;
  request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
  request.set_user_type(raft::RAFT_REQUEST_VOTE);
  request.set_sender_id(3);
  request.set_data(vote.SerializeAsString());
  out.AddByte(2).AddBytes(request.SerializeAsString());
  raft::InstallSnapshotRequest install;
  install.set_term(5);
  install.set_leader_id(3);
  install.mutable_metadata()->set_last_included_index(4);
  install.mutable_metadata()->set_last_included_term(4);
  Message(3, raft::RAFT_INSTALL_SNAPSHOT, install, &out);
  return out.data();
}

std::string LogMeta(uint64_t first, uint64_t last, uint64_t last_term, uint64_t commit) {
  std::string meta(1, 1);  // format version
  for (uint64_t field : {first, last, last_term, first - 1, uint64_t{0}, commit}) {
    PutFixed64(&meta, field);
  }
  return meta;
}

std::string StoredRaft() {
  FuzzInputWriter out;
  raft::HardState hard_state;
  hard_state.set_current_term(3);
  hard_state.set_voted_for(2);
  hard_state.set_commit_index(2);
  hard_state.set_last_applied(1);
  SnapshotMetadata snapshot;
  snapshot.set_last_included_index(0);
  AddStoredRecords({{0, 0, hard_state.SerializeAsString()}, {1, 0, snapshot.SerializeAsString()}},
                   &out);
  std::vector<StoredRecord> log = {{0, 0, LogMeta(1, 3, 3, 2)}};
  for (uint64_t index = 1; index <= 3; ++index) {
    Entry entry;
    entry.set_index(index);
    entry.set_term(index);
    entry.set_data("v");
    log.push_back({0x81, index, entry.SerializeAsString()});
  }
  AddStoredRecords(log, &out);
  out.AddByte(2).AddUint64(2).AddUint64(3);
  return out.data();
}

SnapshotMetadata SnapshotOf(const std::string& data) {
  SnapshotMetadata metadata;
  metadata.set_last_included_index(5);
  metadata.set_last_included_term(1);
  metadata.set_size(data.size());
  metadata.set_checksum(Sha256(data));
  return metadata;
}

std::string SnapshotTransfer() {
  const std::string data = "0123456789";
  FuzzInputWriter out;
  out.AddByte(0);  // nothing stored
  out.AddByte(3);  // 4-byte chunks
  for (uint64_t offset : {0, 6}) {
    raft::InstallSnapshotRequest request;
    request.set_term(1);
    request.set_leader_id(2);
    *request.mutable_metadata() = SnapshotOf(data);
    request.mutable_chunk()->set_offset(offset);
    request.mutable_chunk()->set_data(data.substr(offset, 6));
    request.mutable_chunk()->set_done(offset + 6 >= data.size());
    out.AddByte(7).AddBytes(request.SerializeAsString());
  }
  out.AddByte(3).AddUint64(2).AddByte(4);  // ReadChunk
  out.AddByte(4);                          // ReadAll
  return out.data();
}

std::string SnapshotOperations() {
  const std::string data = "abcdefgh";
  FuzzInputWriter out;
  out.AddByte(0).AddByte(1);
  out.AddByte(6).AddBytes(SnapshotOf(data).SerializeAsString()).AddBytes(data);  // Save
  out.AddByte(0).AddBytes(SnapshotOf("xyz").SerializeAsString());                // Begin
  raft::SnapshotChunk chunk;
  chunk.set_data("xyz");
  out.AddByte(1).AddBytes(chunk.SerializeAsString());  // WriteChunk
  out.AddByte(2);                                      // FinishIncoming
  out.AddByte(5);                                      // AbortIncoming
  return out.data();
}

std::string StoredSnapshot() {
  // Slot "a" complete and active, slot "b" half received, both in 4-byte chunks.
  const std::string data = "abcdef";
  auto slot_record = [](uint64_t chunk_bytes, uint64_t received, const SnapshotMetadata& m) {
    std::string payload(1, 1);  // format version
    PutFixed64(&payload, chunk_bytes);
    PutFixed64(&payload, received);
    return payload + m.SerializeAsString();
  };
  FuzzInputWriter out;
  AddStoredRecords({{0, 0, "a"},
                    {1, 0, slot_record(4, 6, SnapshotOf(data))},
                    {0x83, 0, "abcd"},
                    {0x83, 4, "ef"},
                    {2, 0, slot_record(4, 4, SnapshotOf("12345678"))},
                    {0x84, 0, "1234"}},
                   &out);
  out.AddByte(3);
  out.AddByte(4);
  out.AddByte(3).AddUint64(0).AddByte(9);
  return out.data();
}

}  // namespace

std::map<std::string, std::vector<std::string>> Seeds() {
  return {
      {"raft_message_fuzzer", {FollowerRun(), LeaderRun(), VoterRun()}},
      {"raft_storage_fuzzer", {StoredRaft()}},
      {"raft_snapshot_chunk_fuzzer", {SnapshotTransfer(), SnapshotOperations(), StoredSnapshot()}},
  };
}

}  // namespace fuzz
}  // namespace resdb
