// byzantine_replica: a faulty replica for the multi-process PBFT tests. It takes the place of
// one replica of a signed cluster, started with the flags kv_service gets:
//
//   byzantine_replica --config server.config --id 4 --private_key replica4.key.pem
//                     --data_dir DIR [--rounds N] [--round_interval_ms MS]
//
// It lies to clients and sends garbage to its peers, but only over the channels a real faulty
// replica has: its own address, its own key and the replica streams every replica may open.
//
// - It serves ResDBService. Every client Call (whatever it asks) is answered OK with a
//   KVResponse nobody wrote: value "byzantine:<key>", version 999999, an item of that value,
//   and the claim that this replica leads; with the first one it prints "byzantine: answered
//   a client call with a lie". Streams from the other replicas are read and ignored.
// - It opens a replica Stream to every other replica (once that replica answers its status)
//   and writes --rounds batches, one each --round_interval_ms, each with one envelope of
//   every kind below. Seqs and views follow the target's status, so the garbage aims at the
//   sequence numbers the real primary is about to assign.
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
// When every stream is done it prints one "byzantine: stream to replica <id>: sent=<envelopes>
// received=<n> rejected=<n>" line per target (the target's StreamSummary) and then
// "byzantine: attack finished", and serves until SIGTERM, SIGINT or SIGKILL.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "platform/networkstrate/tls_credentials.h"
#include "platform/proto/resdb.pb.h"
#include "service/kv/proto/kv.pb.h"
#include "service/tools/admin/admin_client.h"

DEFINE_string(config, "", "Path of the cluster config. Required.");
DEFINE_int64(id, 0, "The replica id this process impersonates. Required.");
DEFINE_string(data_dir, "", "Directory for the stranger key pair. Required.");
DEFINE_string(private_key, "", "This replica's own PEM Ed25519 private key. Required.");
DEFINE_int32(rounds, 100, "Batches of garbage written to each peer.");
DEFINE_int32(round_interval_ms, 20, "Pause between two batches to one peer.");
DEFINE_int32(peer_wait_ms, 30000, "How long to wait for a peer to answer its status.");

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

// A peer's replica Stream: read everything, act on nothing.
class SinkReactor : public grpc::ServerGenericBidiReactor {
 public:
  SinkReactor() { StartRead(&batch_); }

  void OnReadDone(bool ok) override {
    if (ok) {
      ++received_;
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

// Attacks `target` over one Stream; returns the line to print about it.
std::string Attack(const Keys& keys, const ReplicaInfo& target, const ResDBConfig& config) {
  const std::string name = absl::StrCat("replica ", target.id());
  absl::StatusOr<ReplicaStatus> status;
  const auto wait_until = Clock::now() + std::chrono::milliseconds(FLAGS_peer_wait_ms);
  do {
    status = GetReplicaStatus(target, config, std::chrono::milliseconds(500));
    if (!status.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (!status.ok() && Clock::now() < wait_until);
  if (!status.ok())
    return absl::StrCat("byzantine: ", name, " never answered: ", status.status().ToString());
  ReplicaStatus last = *status;

  // It is a member with a certificate of its own: the transport admits it, and only the
  // protocols' checks stand between its garbage and the state.
  auto credentials = MakeChannelCredentials(config);
  if (!credentials.ok()) return absl::StrCat("byzantine: ", credentials.status().ToString());
  grpc::ChannelArguments args;
  SetReplicaTargetName(config, target.id(), &args);
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat(target.ip(), ":", target.port()), *credentials, args);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  grpc::CompletionQueue queue;
  int tag = 0;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, kStreamMethod, &queue);
  call->StartCall(&tag);
  uint64_t sent = 0;
  bool open = Await(&queue, &tag);
  for (int round = 0; open && round < FLAGS_rounds; ++round) {
    status = GetReplicaStatus(target, config, std::chrono::milliseconds(500));
    if (status.ok()) last = *status;
    const ResDBMessageBatch batch = Garbage(keys, last, round);
    grpc::ByteBuffer bytes;
    if (!ToBuffer(batch, &bytes)) break;
    call->Write(bytes, &tag);
    open = Await(&queue, &tag);
    if (open) sent += static_cast<uint64_t>(batch.messages_size());
    std::this_thread::sleep_for(std::chrono::milliseconds(FLAGS_round_interval_ms));
  }
  StreamSummary summary;
  if (open) {
    call->WritesDone(&tag);
    if (Await(&queue, &tag)) {
      grpc::ByteBuffer reply;
      call->Read(&reply, &tag);
      if (Await(&queue, &tag)) FromBuffer(&reply, &summary);
    }
  }
  grpc::Status finished;
  call->Finish(&finished, &tag);
  Await(&queue, &tag);
  queue.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (queue.Next(&ignored_tag, &ignored_ok)) {
  }
  return absl::StrCat("byzantine: stream to ", name, ": sent=", sent,
                      " received=", summary.received(), " rejected=", summary.rejected(),
                      finished.ok() ? "" : absl::StrCat(" (", finished.error_message(), ")"));
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
  std::vector<std::thread> attackers;
  for (size_t i = 0; i < targets.size(); ++i) {
    attackers.emplace_back([&, i] { reports[i] = Attack(keys, targets[i], *config); });
  }
  for (std::thread& attacker : attackers) attacker.join();
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
