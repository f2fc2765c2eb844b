// byzantine_replica: a faulty replica for the multi-process PBFT tests. It takes the place of
// one replica of a signed cluster, started with the flags kv_service gets:
//
//   byzantine_replica --config server.config --id 4 --private_key replica4.key.pem
//                     --data_dir DIR
//                     [--mode garbage|forged_view_change|forged_new_view|equivocate]
//                     [--rounds N] [--round_interval_ms MS]
//
// It lies to clients and attacks its peers, but only over the channels a real faulty replica
// has: its own address, its own key, the replica streams every replica may open, and clients
// of its own (a client id is only a key, so anyone can sign requests as some client).
//
// In every mode it serves ResDBService. Every client Call (whatever it asks) is answered OK
// with a KVResponse nobody wrote: value "byzantine:<key>", version 999999, an item of that
// value, and the claim that this replica leads; with the first one it prints "byzantine:
// answered a client call with a lie". Streams from the other replicas are read; only their
// COMMITs and CHECKPOINTs are noted (--mode=equivocate waits for some COMMITs; the forged
// VIEWCHANGEs name a stable checkpoint proven by the signed CHECKPOINTs heard).
//
// --mode=garbage (the default): it opens a replica Stream to every other replica (once that
// replica answers its status) and writes --rounds batches, one each --round_interval_ms,
// each with one envelope of every kind below. Seqs and views follow the target's status, so
// the garbage aims at the sequence numbers the real primary is about to assign.
//     undecodable        bytes that are not a Request                  -> network_malformed
//     unknown type       a signed Request with an undefined type        -> network_unknown_type
//     stranger key       PREPARE signed by a key that is not this one's -> network_bad_signature
//     unsigned           COMMIT without a signature                     -> network_bad_signature
//     forged primary     PRE_PREPARE claiming the primary as sender, digest not matching its
//                        batch, signed with this replica's key once as the primary's node id
//                        and once as its own                           -> network_bad_signature
//     own PRE_PREPARE    from a backup, digest not matching its batch   -> pbft_rejected_messages
//     stray votes        PREPARE and COMMIT for a digest nobody proposed, next seqs
//     out of watermarks  PREPARE far above the high watermark, COMMIT at seq 0
//                                                                      -> pbft_rejected_messages
//     forged forward     each of the last client requests it was sent, forwarded with the
//                        client's id, key and signature but the client's next two request ids
//                        and a payload of its own
//                                                            -> pbft_unsigned_client_requests
//   The batches of the forged PRE_PREPAREs and the forged forwards would set key
//   "byzantine-evil"; a forged forward that were ordered would also use up the client's request
//   id, so that its real write would be answered without being applied.
//
// --mode=forged_view_change (as a backup whose VIEWCHANGE the next primary uses): every
// --round_interval_ms, to each target that is changing view (its status names no primary),
// it sends its own VIEWCHANGE for that view, signed as itself, claiming the target's stable
// checkpoint and carrying a forged prepared certificate of the view before: for a seq just
// above the highest seq any replica executed, a batch (signed by its own client) that would
// set "byzantine-evil", a PRE_PREPARE claiming that view's primary and PREPAREs claiming two
// other replicas, all well formed but signed with this replica's key. Only the signature
// check of the evidence (CheckPreparedCertificate) refuses it -> pbft_rejected_messages. Each
// round also offers the forged batch in an unasked FETCH answer, which a replica that took
// the certificate would execute. It prints "byzantine: forged VIEWCHANGE for view <v> sent to
// replica <id>" once per target and view, and stops attacking a target a while after it is
// active in a later view than it started in, or after --rounds rounds; then "byzantine:
// forged VIEWCHANGEs written to replica <id>: <n>".
//
// --mode=forged_new_view (as the primary of the view after the target's): every
// --round_interval_ms, to each target that is active in a view whose successor this replica
// leads, it sends a NEWVIEW for that next view built from its own VIEWCHANGE and two
// VIEWCHANGEs it made up in other replicas' names, signed with its own key. Each VIEWCHANGE
// is well formed (a stable checkpoint proven by heard CHECKPOINTs, no certificates), so only
// the check of the signatures on the VIEWCHANGEs inside a NEWVIEW refuses it ->
// pbft_rejected_messages; taken, it would depose the correct primary. After --rounds rounds
// it prints "byzantine: forged NEWVIEWs written to replica <id>: <n>".
//
// --mode=equivocate (as the primary of view 0): see Equivocate() below. It prints "byzantine:
// equivocated: replica <id> prepared B and was sent A" once it has, then goes silent on the
// protocol.
//
// When every stream is done it prints one "byzantine: stream to replica <id>: sent=<envelopes>
// received=<n> rejected=<n>" line per target (the target's StreamSummary) and then
// "byzantine: attack finished", and serves until SIGTERM, SIGINT or SIGKILL.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "platform/common/crypto/client_identity.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "platform/consensus/ordering/pbft/message_validator.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/networkstrate/tls_credentials.h"
#include "platform/proto/resdb.pb.h"
#include "service/kv/proto/kv.pb.h"
#include "service/tools/admin/admin_client.h"

DEFINE_string(config, "", "Path of the cluster config. Required.");
DEFINE_int64(id, 0, "The replica id this process impersonates. Required.");
DEFINE_string(data_dir, "", "Directory for the stranger key pair. Required.");
DEFINE_string(private_key, "", "This replica's own PEM Ed25519 private key. Required.");
DEFINE_int32(rounds, 100, "Batches of garbage written to each peer; rounds of forged_view_change.");
DEFINE_int32(round_interval_ms, 20, "Pause between two rounds to one peer.");
DEFINE_int32(peer_wait_ms, 30000, "How long to wait for a peer to answer its status.");
DEFINE_string(mode, "garbage",
              "garbage, forged_view_change, forged_new_view or equivocate (see above).");

namespace resdb {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kCallMethod[] = "/resdb.ResDBService/Call";
constexpr char kStreamMethod[] = "/resdb.ResDBService/Stream";
constexpr char kEvilKey[] = "byzantine-evil";
// Field 1 (type) with a length-delimited wire type and a length running past the end.
constexpr char kUndecodable[] = "\x0a\xff\xff\xff\xff\x0f\x01";
// Far above any high watermark the tests use.
constexpr uint64_t kFarSeq = 1000000;

template <typename T>
bool ToBuffer(const T& message, grpc::ByteBuffer* buffer) {
  bool own_buffer = false;
  return grpc::SerializationTraits<T>::Serialize(message, buffer, &own_buffer).ok();
}

template <typename T>
bool FromBuffer(grpc::ByteBuffer* buffer, T* message) {
  return grpc::SerializationTraits<T>::Deserialize(buffer, message).ok();
}

// ---- Serving. ----

// The last client requests this replica was sent, to forge in their clients' names.
class CapturedRequests {
 public:
  void Add(const Request& request) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    if (requests_.size() > kKept) requests_.pop_front();
  }
  std::vector<Request> Recent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::vector<Request>(requests_.begin(), requests_.end());
  }

 private:
  static constexpr size_t kKept = 4;
  mutable std::mutex mu_;
  std::deque<Request> requests_;
};

CapturedRequests g_captured;

// What this replica tells a client instead of the truth.
Response LieTo(const grpc::ByteBuffer& call_bytes, int64_t self_id) {
  grpc::ByteBuffer copy(call_bytes);
  ResDBMessage envelope;
  Request request;
  KVRequest kv_request;
  if (FromBuffer(&copy, &envelope) && request.ParseFromString(envelope.data())) {
    kv_request.ParseFromString(request.data());
    if (request.type() == Request::TYPE_CLIENT_REQUEST && request.client_id() != 0) {
      g_captured.Add(request);
    }
  }
  KVResponse lie;
  lie.set_status(KVResponse::OK);
  lie.set_key(kv_request.key());
  lie.set_value(absl::StrCat("byzantine:", kv_request.key()));
  lie.set_version(999999);
  KVItem* item = lie.add_items();
  item->set_key(kv_request.key());
  item->set_value(lie.value());
  item->set_version(lie.version());

  Response response;
  response.set_status(Response::OK);
  response.set_data(lie.SerializeAsString());
  response.set_seq(999999);
  response.set_replica_id(self_id);
  response.set_leader_id(self_id);
  return response;
}

// Set with the first lie, so the tests can tell that a client was exposed to one.
std::atomic<bool> g_lied{false};

// One client Call: read the request, answer with a lie.
class CallReactor : public grpc::ServerGenericBidiReactor {
 public:
  explicit CallReactor(int64_t self_id) : self_id_(self_id) { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
      return;
    }
    if (!ToBuffer(LieTo(request_, self_id_), &response_)) {
      Finish(grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize"));
      return;
    }
    if (!g_lied.exchange(true)) {
      std::printf("byzantine: answered a client call with a lie\n");
      std::fflush(stdout);
    }
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  const int64_t self_id_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

// The COMMITs the other replicas sent this one: a COMMIT tells that its sender prepared.
class HeardCommits {
 public:
  void Add(int64_t sender, uint64_t seq, const std::string& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    if (heard_.size() >= kKept) return;
    heard_.insert({sender, seq, digest});
    changed_.notify_all();
  }
  // Waits until `sender` has sent COMMIT(seq, digest) for every (seq, digest) of `commits`, or
  // `deadline` has passed.
  bool WaitFor(int64_t sender, const std::map<uint64_t, std::string>& commits,
               Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_until(lock, deadline, [&] {
      for (const auto& [seq, digest] : commits) {
        if (heard_.count({sender, seq, digest}) == 0) return false;
      }
      return true;
    });
  }

 private:
  static constexpr size_t kKept = 100000;
  std::mutex mu_;
  std::condition_variable changed_;
  std::set<std::tuple<int64_t, uint64_t, std::string>> heard_;
};

HeardCommits g_heard;

// The CHECKPOINTs its peers sent it, as they signed them: a faulty replica holds genuine proofs
// of stable checkpoints, and its forged VIEWCHANGEs name one, so that only the forgery they
// test can be what gets them refused.
class HeardCheckpoints {
 public:
  void Add(const ResDBMessage& envelope, const Request& checkpoint) {
    pbft::SignedMessage evidence;
    evidence.set_data(envelope.data());
    evidence.set_signer(checkpoint.sender_id());
    evidence.set_signature(envelope.signature().signature());
    std::lock_guard<std::mutex> lock(mu_);
    heard_[checkpoint.seq()][checkpoint.hash()].emplace(checkpoint.sender_id(),
                                                        std::move(evidence));
    while (heard_.size() > kKeptSeqs) heard_.erase(heard_.begin());
  }
  // The highest seq at or below `at_most` for which `quorum` replicas signed the same state
  // digest: the proof of that stable checkpoint. Seq 0 (no proof needed) if there is none.
  pbft::StableCheckpoint Proof(uint64_t at_most, size_t quorum) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = heard_.upper_bound(at_most); it != heard_.begin();) {
      --it;
      for (const auto& [digest, by_sender] : it->second) {
        if (by_sender.size() < quorum) continue;
        pbft::StableCheckpoint proof;
        proof.set_seq(it->first);
        proof.set_digest(digest);
        for (const auto& [sender, evidence] : by_sender) *proof.add_checkpoints() = evidence;
        return proof;
      }
    }
    return pbft::StableCheckpoint();
  }

 private:
  static constexpr size_t kKeptSeqs = 64;
  mutable std::mutex mu_;
  // seq -> state digest -> sender -> CHECKPOINT.
  std::map<uint64_t, std::map<std::string, std::map<int64_t, pbft::SignedMessage>>> heard_;
};

HeardCheckpoints g_checkpoints;

// A peer's replica Stream: read everything, act on nothing but noting its COMMITs.
class SinkReactor : public grpc::ServerGenericBidiReactor {
 public:
  SinkReactor() { StartRead(&batch_); }

  void OnReadDone(bool ok) override {
    if (ok) {
      ++received_;
      ResDBMessageBatch batch;
      if (FromBuffer(&batch_, &batch)) {
        for (const ResDBMessage& envelope : batch.messages()) {
          Request message;
          if (!message.ParseFromString(envelope.data())) continue;
          if (message.type() == Request::TYPE_COMMIT) {
            g_heard.Add(message.sender_id(), message.seq(), message.hash());
          } else if (message.type() == Request::TYPE_CHECKPOINT) {
            g_checkpoints.Add(envelope, message);
          }
        }
      }
      batch_.Clear();
      StartRead(&batch_);
      return;
    }
    StreamSummary summary;
    summary.set_received(received_);
    if (!ToBuffer(summary, &summary_)) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWriteAndFinish(&summary_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer batch_;
  grpc::ByteBuffer summary_;
  uint64_t received_ = 0;
};

class RefuseReactor : public grpc::ServerGenericBidiReactor {
 public:
  RefuseReactor() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method")); }
  void OnDone() override { delete this; }
};

class LyingService : public grpc::CallbackGenericService {
 public:
  explicit LyingService(int64_t self_id) : self_id_(self_id) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    if (context->method() == kCallMethod) return new CallReactor(self_id_);
    if (context->method() == kStreamMethod) return new SinkReactor();
    return new RefuseReactor();
  }

 private:
  const int64_t self_id_;
};

// ---- Attacking. ----

struct Keys {
  int64_t self_id = 0;
  std::unique_ptr<Signer> own;
  std::unique_ptr<Signer> stranger;
  // Anyone can be a client: a client id is only a key.
  std::unique_ptr<ClientIdentity> client;
};

ResDBMessage Envelope(const Request& request) {
  ResDBMessage envelope;
  request.SerializeToString(envelope.mutable_data());
  return envelope;
}

ResDBMessage Signed(const Request& request, const Signer& signer, int64_t node_id) {
  ResDBMessage envelope = Envelope(request);
  SignatureInfo* signature = envelope.mutable_signature();
  signature->set_node_id(node_id);
  signature->set_signature(signer.Sign(envelope.data()));
  signature->set_hash_type(HASH_ED25519);
  return envelope;
}

Request Message(Request::Type type, int64_t sender, uint64_t view, uint64_t seq,
                const std::string& hash) {
  Request request;
  request.set_type(type);
  request.set_sender_id(sender);
  request.set_view(view);
  request.set_seq(seq);
  request.set_hash(hash);
  return request;
}

// A KV request that would set kEvilKey if it were ever executed.
std::string EvilSet(int round) {
  KVRequest set;
  set.set_cmd(KVRequest::SET);
  set.set_key(kEvilKey);
  set.set_value(absl::StrCat("round ", round));
  return set.SerializeAsString();
}

// A batch that would set kEvilKey if it were ever executed.
std::string EvilBatch(int round) {
  BatchUserRequest batch;
  UserRequest* request = batch.add_requests();
  request->set_data(EvilSet(round));
  request->set_client_id(4242);
  request->set_request_id(static_cast<uint64_t>(round) + 1);
  request->set_proxy_id(FLAGS_id);
  return batch.SerializeAsString();
}

ResDBMessageBatch Garbage(const Keys& keys, const ReplicaStatus& target, int round) {
  const int64_t self = keys.self_id;
  const uint64_t view = target.view();
  const int64_t primary = target.primary_id() != 0 ? target.primary_id() : 1;
  const uint64_t next = target.executed_seq() + 1;
  const std::string bogus = Sha256(absl::StrCat("nobody proposed this, round ", round));
  ResDBMessageBatch batch;

  ResDBMessage undecodable;
  undecodable.set_data(std::string(kUndecodable, sizeof(kUndecodable) - 1));
  *batch.add_messages() = std::move(undecodable);

  Request unknown = Message(static_cast<Request::Type>(1000), self, view, next, bogus);
  *batch.add_messages() = Signed(unknown, *keys.own, self);

  *batch.add_messages() =
      Signed(Message(Request::TYPE_PREPARE, self, view, next, bogus), *keys.stranger, self);
  *batch.add_messages() = Envelope(Message(Request::TYPE_COMMIT, self, view, next, bogus));

  Request forged = Message(Request::TYPE_PRE_PREPARE, primary, view, next, bogus);
  forged.set_data(EvilBatch(round));
  *batch.add_messages() = Signed(forged, *keys.own, primary);
  *batch.add_messages() = Signed(forged, *keys.own, self);

  Request own = forged;
  own.set_sender_id(self);
  *batch.add_messages() = Signed(own, *keys.own, self);

  const uint64_t ahead = next + static_cast<uint64_t>(round % 4);
  *batch.add_messages() =
      Signed(Message(Request::TYPE_PREPARE, self, view, ahead, bogus), *keys.own, self);
  *batch.add_messages() =
      Signed(Message(Request::TYPE_COMMIT, self, view, ahead, bogus), *keys.own, self);

  *batch.add_messages() =
      Signed(Message(Request::TYPE_PREPARE, self, view, next + kFarSeq, bogus), *keys.own, self);
  *batch.add_messages() =
      Signed(Message(Request::TYPE_COMMIT, self, view, 0, bogus), *keys.own, self);

  // A correct replica forwarding its client's request looks just like this, but for the
  // payload, which the client's signature does not cover.
  // The client's next request ids are the prize: ordered first, they would make its real
  // writes look like retries.
  for (const Request& captured : g_captured.Recent()) {
    for (uint64_t ahead = 1; ahead <= 2; ++ahead) {
      Request forward = captured;
      forward.set_sender_id(self);
      forward.set_proxy_id(self);
      forward.set_request_id(captured.request_id() + ahead);
      forward.set_data(EvilSet(round));
      *batch.add_messages() = Signed(forward, *keys.own, self);
    }
  }
  return batch;
}

// Runs one completion-queue operation to its end.
bool Await(grpc::CompletionQueue* queue, void* tag) {
  void* got = nullptr;
  bool ok = false;
  if (!queue->Next(&got, &ok)) return false;
  return got == tag && ok;
}

// Asks `target` for its status until it answers or --peer_wait_ms have passed.
absl::StatusOr<ReplicaStatus> WaitForStatus(const ReplicaInfo& target, const ResDBConfig& config) {
  absl::StatusOr<ReplicaStatus> status;
  const auto wait_until = Clock::now() + std::chrono::milliseconds(FLAGS_peer_wait_ms);
  do {
    status = GetReplicaStatus(target, config, std::chrono::milliseconds(500));
    if (!status.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (!status.ok() && Clock::now() < wait_until);
  return status;
}

// One replica Stream to a peer, as every replica opens them. It is a member with a
// certificate of its own: the transport admits it, and only the protocols' checks stand
// between what it writes and the state.
class PeerStream {
 public:
  PeerStream(const ReplicaInfo& target, const ResDBConfig& config)
      : name_(absl::StrCat("replica ", target.id())) {
    auto credentials = MakeChannelCredentials(config);
    if (!credentials.ok()) {
      error_ = credentials.status().ToString();
      return;
    }
    grpc::ChannelArguments args;
    SetReplicaTargetName(config, target.id(), &args);
    channel_ = grpc::CreateCustomChannel(absl::StrCat(target.ip(), ":", target.port()),
                                         *credentials, args);
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    call_ = stub_->PrepareCall(&context_, kStreamMethod, &queue_);
    call_->StartCall(&tag_);
    open_ = Await(&queue_, &tag_);
  }

  ~PeerStream() {
    if (call_ != nullptr && !finished_) Finish();
  }

  PeerStream(const PeerStream&) = delete;
  PeerStream& operator=(const PeerStream&) = delete;

  bool open() const { return open_; }

  // Writes `batch`; false once the stream is broken.
  bool Write(const ResDBMessageBatch& batch) {
    grpc::ByteBuffer bytes;
    if (!open_ || !ToBuffer(batch, &bytes)) return false;
    call_->Write(bytes, &tag_);
    open_ = Await(&queue_, &tag_);
    if (open_) sent_ += static_cast<uint64_t>(batch.messages_size());
    return open_;
  }

  // Closes the stream; returns the line to print about it, with the target's own count of
  // what it took (StreamSummary).
  std::string Finish() {
    if (call_ == nullptr) return absl::StrCat("byzantine: stream to ", name_, ": ", error_);
    finished_ = true;
    StreamSummary summary;
    if (open_) {
      call_->WritesDone(&tag_);
      if (Await(&queue_, &tag_)) {
        grpc::ByteBuffer reply;
        call_->Read(&reply, &tag_);
        if (Await(&queue_, &tag_)) FromBuffer(&reply, &summary);
      }
    }
    grpc::Status finished;
    call_->Finish(&finished, &tag_);
    Await(&queue_, &tag_);
    queue_.Shutdown();
    void* ignored_tag;
    bool ignored_ok;
    while (queue_.Next(&ignored_tag, &ignored_ok)) {
    }
    return absl::StrCat("byzantine: stream to ", name_, ": sent=", sent_,
                        " received=", summary.received(), " rejected=", summary.rejected(),
                        finished.ok() ? "" : absl::StrCat(" (", finished.error_message(), ")"));
  }

 private:
  const std::string name_;
  std::string error_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  int tag_ = 0;
  bool open_ = false;
  bool finished_ = false;
  uint64_t sent_ = 0;
};

void Print(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// --mode=garbage: --rounds batches of every kind of garbage to `target`.
std::string SendGarbage(const Keys& keys, const ReplicaInfo& target, const ResDBConfig& config) {
  absl::StatusOr<ReplicaStatus> status = WaitForStatus(target, config);
  if (!status.ok()) {
    return absl::StrCat("byzantine: replica ", target.id(),
                        " never answered: ", status.status().ToString());
  }
  ReplicaStatus last = *status;
  PeerStream stream(target, config);
  for (int round = 0; stream.open() && round < FLAGS_rounds; ++round) {
    status = GetReplicaStatus(target, config, std::chrono::milliseconds(500));
    if (status.ok()) last = *status;
    if (!stream.Write(Garbage(keys, last, round))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(FLAGS_round_interval_ms));
  }
  return stream.Finish();
}

// ---- Forged view-change evidence. ----

// A request of the client this replica made up, signed by it: the client checks of
// ProposedBatchesAreSigned accept it anywhere, and only the replicas' own checks keep it from
// being ordered where no client asked for it.
UserRequest SignedClientRequest(const ClientIdentity& client, uint64_t request_id,
                                const KVRequest& kv_request) {
  UserRequest request;
  kv_request.SerializeToString(request.mutable_data());
  request.set_client_id(client.client_id());
  request.set_request_id(request_id);
  request.set_proxy_id(FLAGS_id);
  request.set_client_public_key(client.public_key());
  request.set_client_signature(client.Sign(request_id, request.data()));
  return request;
}

std::string SignedBatch(const ClientIdentity& client, uint64_t request_id, const std::string& key,
                        const std::string& value) {
  KVRequest set;
  set.set_cmd(KVRequest::SET);
  set.set_key(key);
  set.set_value(value);
  BatchUserRequest batch;
  *batch.add_requests() = SignedClientRequest(client, request_id, set);
  return batch.SerializeAsString();
}

// `message` as evidence that its sender_id signed it, signed with `key` (this replica's own
// when it claims another replica's word).
pbft::SignedMessage AsEvidence(const Request& message, const Signer& key) {
  pbft::SignedMessage evidence;
  message.SerializeToString(evidence.mutable_data());
  evidence.set_signer(message.sender_id());
  evidence.set_signature(key.Sign(evidence.data()));
  return evidence;
}

// The highest executed seq any target reported, shared by the attackers of every target: a
// forged certificate must name a seq no correct replica has prepared yet.
std::atomic<uint64_t> g_highest_executed{0};

void NoteExecuted(const ReplicaStatus& status) {
  uint64_t seen = g_highest_executed.load();
  while (status.executed_seq() > seen &&
         !g_highest_executed.compare_exchange_weak(seen, status.executed_seq())) {
  }
}

// What one forged VIEWCHANGE is built from.
struct ForgeryContext {
  const Keys* keys = nullptr;
  int n = 0;
  // The view changed to; the forged evidence is of the view before it.
  uint64_t view = 0;
  ReplicaStatus target;
  uint64_t watermark_window = 0;
};

// The latest stable checkpoint up to the target's own that this replica can prove with the
// signed CHECKPOINTs it heard: genuine, so that the VIEWCHANGE is refused, if at all, for the
// certificate it forges.
void ClaimStableCheckpoint(const ForgeryContext& context, pbft::ViewChange* vc) {
  const pbft::StableCheckpoint proof = g_checkpoints.Proof(
      context.target.stable_checkpoint(), static_cast<size_t>(2 * ((context.n - 1) / 3) + 1));
  vc->set_stable_seq(proof.seq());
  vc->set_stable_digest(proof.digest());
  *vc->mutable_checkpoints() = proof.checkpoints();
}

// A prepared certificate of the previous view for a seq just above every seq executed so far,
// whose batch would set kEvilKey. Its PRE_PREPARE claims the primary of that view and its
// PREPAREs two other replicas; all are signed with this replica's key. In form it is
// perfect: only checking the signatures inside it can tell it from a real one. Returns the
// forged batch at its seq.
pbft::CommittedBatch ForgePreparedCertificate(const ForgeryContext& context, pbft::ViewChange* vc) {
  constexpr uint64_t kAhead = 2;
  const uint64_t cert_view = context.view - 1;
  const int64_t primary = pbft::MessageValidator::PrimaryOf(cert_view, context.n);
  const uint64_t seq =
      std::min(std::max(g_highest_executed.load(), context.target.executed_seq()) + kAhead,
               vc->stable_seq() + context.watermark_window);
  const std::string data =
      SignedBatch(*context.keys->client, seq, kEvilKey, absl::StrCat("forged in view ", cert_view));
  pbft::PreparedCertificate* cert = vc->add_prepared();
  cert->set_seq(seq);
  cert->set_view(cert_view);
  cert->set_data(data);
  cert->set_digest(pbft::BatchDigest(data));

  Request pre_prepare = Message(Request::TYPE_PRE_PREPARE, primary, cert_view, seq, cert->digest());
  pre_prepare.set_data(data);
  *cert->mutable_pre_prepare() = AsEvidence(pre_prepare, *context.keys->own);
  int prepares = 0;
  for (int64_t id = 1; id <= context.n && prepares < 2 * ((context.n - 1) / 3); ++id) {
    if (id == primary || id == context.keys->self_id) continue;
    *cert->add_prepares() = AsEvidence(
        Message(Request::TYPE_PREPARE, id, cert_view, seq, cert->digest()), *context.keys->own);
    ++prepares;
  }
  pbft::CommittedBatch forged;
  forged.set_seq(seq);
  forged.set_data(data);
  return forged;
}

// An answer to a FETCH nobody sent, offering `forged`: a replica that took the forged
// certificate would know the batch by digest only and take its data from this.
Request ForgedFetchReply(const ForgeryContext& context, const pbft::CommittedBatch& forged) {
  pbft::FetchReply reply;
  reply.set_view(context.view);
  reply.set_last_committed(forged.seq());
  *reply.add_batches() = forged;
  Request message = Message(Request::TYPE_RECOVERY_DATA_RESP, context.keys->self_id, context.view,
                            forged.seq(), "");
  reply.SerializeToString(message.mutable_data());
  return message;
}

// This replica's VIEWCHANGE for context.view, signed as itself, carrying the forgery;
// `forged` gets the batch of the forged certificate.
Request ForgedViewChange(const ForgeryContext& context, pbft::CommittedBatch* forged) {
  pbft::ViewChange vc;
  ClaimStableCheckpoint(context, &vc);
  *forged = ForgePreparedCertificate(context, &vc);
  Request message =
      Message(Request::TYPE_VIEWCHANGE, context.keys->self_id, context.view, vc.stable_seq(), "");
  vc.SerializeToString(message.mutable_data());
  return message;
}

// --mode=forged_view_change: joins every view change of `target` with a forged VIEWCHANGE
// each round. A VIEWCHANGE sent before the others change view would name a seq long executed
// by the time it counts (a replica keeps the first one of a sender for a view), so it waits
// for the target to change view. Each round also offers the forged batch in a FETCH answer,
// and goes on doing so for a while after the target entered the new view. Stops then, or
// after --rounds rounds.
std::string ForgeViewChanges(const Keys& keys, const ReplicaInfo& target,
                             const ResDBConfig& config) {
  absl::StatusOr<ReplicaStatus> status = WaitForStatus(target, config);
  if (!status.ok()) {
    return absl::StrCat("byzantine: replica ", target.id(),
                        " never answered: ", status.status().ToString());
  }
  // Rounds of FETCH answers after the view change.
  constexpr int kOffersAfter = 50;
  const uint64_t first_view = status->view();
  PeerStream stream(target, config);
  uint64_t announced_view = 0;
  int offers_left = kOffersAfter;
  int64_t view_changes_written = 0;
  ForgeryContext context;
  context.keys = &keys;
  context.n = config.GetReplicaNum();
  context.watermark_window =
      static_cast<uint64_t>(std::max(1, config.GetPbftConfig().watermark_window()));
  pbft::CommittedBatch forged;
  for (int round = 0; stream.open() && round < FLAGS_rounds; ++round) {
    if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(FLAGS_round_interval_ms));
    status = GetReplicaStatus(target, config, std::chrono::milliseconds(500));
    if (!status.ok()) continue;
    NoteExecuted(*status);
    // A PBFT replica reports no primary while it waits for the NEWVIEW of status->view().
    const bool changing = status->primary_id() == 0 && status->view() > 0;
    ResDBMessageBatch batch;
    if (changing) {
      context.view = status->view();
      context.target = *status;
      *batch.add_messages() = Signed(ForgedViewChange(context, &forged), *keys.own, keys.self_id);
    } else if (status->view() > first_view && --offers_left < 0) {
      break;
    }
    if (forged.seq() > 0) {
      *batch.add_messages() = Signed(ForgedFetchReply(context, forged), *keys.own, keys.self_id);
    }
    if (batch.messages_size() == 0) continue;
    if (!stream.Write(batch)) break;
    if (!changing) continue;
    ++view_changes_written;
    if (announced_view != context.view) {
      announced_view = context.view;
      Print(absl::StrCat("byzantine: forged VIEWCHANGE for view ", context.view,
                         " sent to replica ", target.id()));
    }
  }
  const std::string summary = stream.Finish();
  return absl::StrCat(summary, "\nbyzantine: forged VIEWCHANGEs written to replica ", target.id(),
                      ": ", view_changes_written);
}

// A VIEWCHANGE of `sender` for `view` with the stable checkpoint this replica can prove and
// no certificates.
Request EmptyViewChange(int64_t sender, uint64_t view, uint64_t stable_at_most, int n) {
  const pbft::StableCheckpoint proof =
      g_checkpoints.Proof(stable_at_most, static_cast<size_t>(2 * ((n - 1) / 3) + 1));
  pbft::ViewChange vc;
  vc.set_stable_seq(proof.seq());
  vc.set_stable_digest(proof.digest());
  *vc.mutable_checkpoints() = proof.checkpoints();
  Request message = Message(Request::TYPE_VIEWCHANGE, sender, view, proof.seq(), "");
  vc.SerializeToString(message.mutable_data());
  return message;
}

// --mode=forged_new_view: a NEWVIEW for the view after the target's, which this replica leads,
// as if 2f+1 replicas had asked for it: its own VIEWCHANGE (covered by its signature on the
// NEWVIEW) and others' made up and signed with its own key.
std::string ForgeNewViews(const Keys& keys, const ReplicaInfo& target, const ResDBConfig& config) {
  absl::StatusOr<ReplicaStatus> status = WaitForStatus(target, config);
  if (!status.ok()) {
    return absl::StrCat("byzantine: replica ", target.id(),
                        " never answered: ", status.status().ToString());
  }
  const int n = config.GetReplicaNum();
  const int quorum = 2 * ((n - 1) / 3) + 1;
  PeerStream stream(target, config);
  int64_t written = 0;
  for (int round = 0; stream.open() && round < FLAGS_rounds; ++round) {
    if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(FLAGS_round_interval_ms));
    status = GetReplicaStatus(target, config, std::chrono::milliseconds(500));
    if (!status.ok() || status->primary_id() == 0) continue;
    const uint64_t view = status->view() + 1;
    if (pbft::MessageValidator::PrimaryOf(view, n) != keys.self_id) continue;
    pbft::NewView nv;
    const Request own = EmptyViewChange(keys.self_id, view, status->stable_checkpoint(), n);
    pbft::SignedMessage* own_envelope = nv.add_view_changes();
    own.SerializeToString(own_envelope->mutable_data());
    own_envelope->set_signer(keys.self_id);
    for (int64_t id = 1; id <= n && nv.view_changes_size() < quorum; ++id) {
      if (id == keys.self_id) continue;
      *nv.add_view_changes() =
          AsEvidence(EmptyViewChange(id, view, status->stable_checkpoint(), n), *keys.own);
    }
    Request message = Message(Request::TYPE_NEWVIEW, keys.self_id, view, 0, "");
    nv.SerializeToString(message.mutable_data());
    ResDBMessageBatch batch;
    *batch.add_messages() = Signed(message, *keys.own, keys.self_id);
    if (!stream.Write(batch)) break;
    ++written;
  }
  const std::string summary = stream.Finish();
  return absl::StrCat(summary, "\nbyzantine: forged NEWVIEWs written to replica ", target.id(),
                      ": ", written);
}

// ---- Equivocation. ----

// --mode=equivocate, as the primary of the view its peers are in. The first seq s0 is held
// back. For the next few seqs s it sends PRE_PREPARE(s, A_s) to the primary of the next view
// and PRE_PREPARE(s, B_s) to the other peers (the B replicas), and COMMITs for both digests to
// every peer: to the first B replica (the late one) the COMMIT for B first, to the others the
// one for A first. A replica counts the first COMMIT of a sender per (view, seq), so the late
// replica alone commits B_s, with the B replicas' COMMITs, and nobody can execute it while s0
// is missing. Once every B replica's COMMIT(B_s) has reached it (they prepared B_s), and a
// little later (their COMMITs have reached each other), it sends PRE_PREPARE(s, A_s) to the
// late replica as well, then a batch for s0 with its COMMIT to every peer, which lets them
// execute what they committed. It then stops talking to its peers (it keeps lying to
// clients), and the backups change view without it.
//
// What must hold: the late replica refuses the second PRE_PREPARE (had it taken it, it would
// execute A_s from the slot it committed B_s in), and, since only one replica executed B_s,
// which is too few to hand it out (f+1 must agree), the others get B_s only from the NEWVIEW,
// which must re-propose the prepared certificates the B replicas' VIEWCHANGEs carry.
std::vector<std::string> Equivocate(const Keys& keys, const std::vector<ReplicaInfo>& targets,
                                    const ResDBConfig& config) {
  constexpr uint64_t kSeqs = 3;
  std::vector<std::string> reports;
  uint64_t view = 0;
  uint64_t first_seq = 1;
  for (const ReplicaInfo& target : targets) {
    absl::StatusOr<ReplicaStatus> status = WaitForStatus(target, config);
    if (!status.ok()) {
      reports.push_back(absl::StrCat("byzantine: replica ", target.id(),
                                     " never answered: ", status.status().ToString()));
      return reports;
    }
    view = status->view();
    first_seq = std::max(first_seq, status->executed_seq() + 1);
  }
  const int n = config.GetReplicaNum();
  if (pbft::MessageValidator::PrimaryOf(view, n) != keys.self_id) {
    reports.push_back(absl::StrCat("byzantine: not the primary of view ", view));
    return reports;
  }
  // The next primary puts its own VIEWCHANGE first in its NEWVIEW.
  const int64_t a_replica = pbft::MessageValidator::PrimaryOf(view + 1, n);
  std::vector<int64_t> b_replicas;
  for (const ReplicaInfo& target : targets) {
    if (target.id() != a_replica) b_replicas.push_back(target.id());
  }
  const int64_t late_replica = b_replicas.front();
  std::map<int64_t, std::unique_ptr<PeerStream>> streams;
  for (const ReplicaInfo& target : targets) {
    streams[target.id()] = std::make_unique<PeerStream>(target, config);
  }
  auto commit = [&](uint64_t seq, const std::string& digest) {
    return Signed(Message(Request::TYPE_COMMIT, keys.self_id, view, seq, digest), *keys.own,
                  keys.self_id);
  };
  auto pre_prepare = [&](uint64_t seq, const std::string& data) {
    Request message =
        Message(Request::TYPE_PRE_PREPARE, keys.self_id, view, seq, pbft::BatchDigest(data));
    message.set_data(data);
    return message;
  };

  std::map<uint64_t, Request> a_pre_prepares;
  std::map<uint64_t, std::string> b_digests;
  std::map<int64_t, ResDBMessageBatch> first;
  for (uint64_t seq = first_seq + 1; seq <= first_seq + kSeqs; ++seq) {
    const Request a =
        pre_prepare(seq, SignedBatch(*keys.client, 2 * seq, absl::StrCat("equivocation-a-", seq),
                                     absl::StrCat("what replica ", a_replica, " was told")));
    const Request b = pre_prepare(
        seq, SignedBatch(*keys.client, 2 * seq + 1, absl::StrCat("equivocation-b-", seq),
                         "what the others were told"));
    a_pre_prepares[seq] = a;
    b_digests[seq] = b.hash();
    for (const ReplicaInfo& target : targets) {
      // A replica counts only the first COMMIT of a sender per (view, seq).
      const bool told_a = target.id() == a_replica;
      const bool a_first = told_a || target.id() != late_replica;
      ResDBMessageBatch& batch = first[target.id()];
      *batch.add_messages() = Signed(told_a ? a : b, *keys.own, keys.self_id);
      *batch.add_messages() = commit(seq, a_first ? a.hash() : b.hash());
      *batch.add_messages() = commit(seq, a_first ? b.hash() : a.hash());
    }
  }
  for (auto& [id, batch] : first) streams[id]->Write(batch);
  Print(absl::StrCat("byzantine: PRE_PREPARE A to replica ", a_replica, ", B to the others, seqs ",
                     first_seq + 1, "..", first_seq + kSeqs));

  const auto deadline = Clock::now() + std::chrono::milliseconds(FLAGS_peer_wait_ms);
  bool prepared = true;
  for (int64_t id : b_replicas) prepared = prepared && g_heard.WaitFor(id, b_digests, deadline);
  if (!prepared) {
    Print("byzantine: the B replicas did not prepare B");
  } else {
    // The late replica commits B with the other B replicas' COMMITs, sent to it when they
    // were sent here.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ResDBMessageBatch late;
    for (auto& [seq, a] : a_pre_prepares) {
      *late.add_messages() = Signed(a, *keys.own, keys.self_id);
    }
    streams[late_replica]->Write(late);
    const Request held_back = pre_prepare(
        first_seq, SignedBatch(*keys.client, 1, "equivocation-first", "the seq held back"));
    for (auto& [id, stream] : streams) {
      ResDBMessageBatch batch;
      *batch.add_messages() = Signed(held_back, *keys.own, keys.self_id);
      *batch.add_messages() = commit(first_seq, held_back.hash());
      stream->Write(batch);
    }
    Print(absl::StrCat("byzantine: equivocated: replica ", late_replica,
                       " prepared B and was sent A"));
  }
  for (auto& [id, stream] : streams) reports.push_back(stream->Finish());
  return reports;
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "byzantine_replica: %s\n", message.c_str());
  std::exit(1);
}

int Run() {
  if (FLAGS_config.empty() || FLAGS_id <= 0 || FLAGS_private_key.empty() ||
      FLAGS_data_dir.empty()) {
    Fail("--config, --id, --private_key and --data_dir are required");
  }
  if (FLAGS_mode != "garbage" && FLAGS_mode != "forged_view_change" &&
      FLAGS_mode != "forged_new_view" && FLAGS_mode != "equivocate") {
    Fail("--mode must be garbage, forged_view_change, forged_new_view or equivocate");
  }
  Request probe;
  if (probe.ParseFromString(std::string(kUndecodable, sizeof(kUndecodable) - 1))) {
    Fail("the undecodable bytes decode");
  }
  auto config = ResDBConfig::LoadFromFile(FLAGS_config, FLAGS_id);
  if (!config.ok()) Fail(config.status().ToString());

  Keys keys;
  keys.self_id = FLAGS_id;
  auto own = Signer::LoadFromFile(FLAGS_private_key);
  if (!own.ok()) Fail(own.status().ToString());
  keys.own = std::move(*own);
  mkdir(FLAGS_data_dir.c_str(), 0755);
  const std::string stranger_key = FLAGS_data_dir + "/stranger.key.pem";
  absl::Status generated = GenerateKeyPair(stranger_key, FLAGS_data_dir + "/stranger.pub.pem");
  if (!generated.ok()) Fail(generated.ToString());
  auto stranger = Signer::LoadFromFile(stranger_key);
  if (!stranger.ok()) Fail(stranger.status().ToString());
  keys.stranger = std::move(*stranger);
  auto client = ClientIdentity::Generate();
  if (!client.ok()) Fail(client.status().ToString());
  keys.client = std::move(*client);

  // SIGTERM and SIGINT are taken by sigwait below, also from the gRPC threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const ReplicaInfo& self = config->GetSelfInfo();
  LyingService service(FLAGS_id);
  grpc::ServerBuilder builder;
  int port = 0;
  auto server_credentials = MakeServerCredentials(*config);
  if (!server_credentials.ok()) Fail(server_credentials.status().ToString());
  builder.AddListeningPort(absl::StrCat(self.ip(), ":", self.port()), *server_credentials, &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterCallbackGenericService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    Fail(absl::StrCat("cannot listen on ", self.ip(), ":", self.port()));
  }
  std::printf("byzantine: replica %ld serving on %s:%d\n", static_cast<long>(FLAGS_id),
              self.ip().c_str(), port);
  std::fflush(stdout);

  std::vector<ReplicaInfo> targets;
  for (const ReplicaInfo& info : config->GetReplicaInfos()) {
    if (info.id() != FLAGS_id) targets.push_back(info);
  }
  std::vector<std::string> reports(targets.size());
  if (FLAGS_mode == "equivocate") {
    reports = Equivocate(keys, targets, *config);
  } else {
    std::vector<std::thread> attackers;
    for (size_t i = 0; i < targets.size(); ++i) {
      attackers.emplace_back([&, i] {
        if (FLAGS_mode == "forged_view_change") {
          reports[i] = ForgeViewChanges(keys, targets[i], *config);
        } else if (FLAGS_mode == "forged_new_view") {
          reports[i] = ForgeNewViews(keys, targets[i], *config);
        } else {
          reports[i] = SendGarbage(keys, targets[i], *config);
        }
      });
    }
    for (std::thread& attacker : attackers) attacker.join();
  }
  for (const std::string& report : reports) std::printf("%s\n", report.c_str());
  std::printf("byzantine: attack finished\n");
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  return 0;
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return resdb::Run();
}
