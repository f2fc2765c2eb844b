// Every byte a replica receives from clients and peers first goes through MessageDispatcher,
// which parses the envelope's Request, checks its type, its size, who may send it and, for
// replica traffic, its signature and its channel. This target dispatches hostile envelopes to
// a recording ConsensusManager and checks that only well-formed Requests reach it, that a
// replica message reaches it only when signed by its sender (while a verifier is set) and
// only with its channel's id as sender (on an authenticated channel), that no admin request
// reaches it (nobody is an admin here), and that every client call gets exactly one answer.
//
// Input: a sequence of operations:
//   0  a client call with the envelope ResDBMessage parsed from TakeBytes(), from the caller
//      identity byte % 4 picks ("", "client", "admin", "replica-2")
//   1  a replica message, the envelope parsed from TakeBytes(), on channel byte % 4 (0: plain)
//   2  a replica message whose data is TakeBytes(), signed by this target's test key under
//      node id byte % 4 (the verifier knows the key as node 2's), on channel byte % 4
//   3  the verifier on (byte & 1) or off; the manager answers client calls when byte & 2
//   4  SetAccepting(byte & 1)

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "platform/common/crypto/signature.h"
#include "platform/common/fuzz/fuzz_input.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/networkstrate/fuzz/test_key.h"
#include "platform/networkstrate/message_dispatcher.h"
#include "platform/networkstrate/test_config.h"
#include "platform/statistic/stats.h"

namespace resdb {
namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "message_dispatcher_fuzzer: %s\n", what);
  std::abort();
}

// Checks what the dispatcher hands over and answers client calls or drops them.
class RecordingConsensusManager : public ConsensusManager {
 public:
  RecordingConsensusManager(const ResDBConfig& config, Stats* stats)
      : ConsensusManager(config, stats) {}

  int OnClientCall(std::unique_ptr<Context> context, std::unique_ptr<Request> request) override {
    Check(*request, context->signed_data());
    if (!context->CanReply()) Fail("a client call reached the manager without a reply channel");
    if (answer_) {
      Response response;
      response.set_status(Response::OK);
      context->Reply(response);
    }
    return request->type() == Request::TYPE_HEART_BEAT ? -1 : 0;
  }
  int OnReplicaMessage(std::unique_ptr<Request> request, ResDBMessage envelope) override {
    Check(*request, envelope.data());
    if (require_signed_ && envelope.signature().node_id() != request->sender_id()) {
      Fail("a replica message reached the manager without its sender's signature");
    }
    if (channel_id_ != 0 && request->sender_id() != channel_id_) {
      Fail("a replica message reached the manager in another replica's name");
    }
    return request->type() == Request::TYPE_HEART_BEAT ? -1 : 0;
  }
  void Check(const Request& request, const std::string& signed_data) {
    const int type = static_cast<int>(request.type());
    if (!Request::Type_IsValid(type) || type == Request::TYPE_NONE) {
      Fail("a Request of unknown type reached the manager");
    }
    Request signed_request;
    if (!signed_request.ParseFromString(signed_data) ||
        signed_request.SerializeAsString() != request.SerializeAsString()) {
      Fail("the envelope's signed bytes are not the Request handed over");
    }
    if (request.type() == Request::TYPE_ADMIN) Fail("an admin request reached the manager");
  }
  int64_t GetPrimary() override { return 0; }
  uint64_t GetVersion() override { return 0; }

  bool require_signed_ = false;
  bool answer_ = true;
  // The channel of the replica message being dispatched.
  int64_t channel_id_ = 0;
};

const char* const kIdentities[] = {"", "client", "admin", "replica-2"};

class Driver {
 public:
  Driver()
      : config_(testing_util::MakeTestConfig(1, {{1, 20001}, {2, 20002}, {3, 20003}})),
        manager_(config_, &stats_),
        dispatcher_(config_, &manager_, &stats_),
        signer_(Signer::LoadFromPem(kFuzzTestPrivateKey).value()) {
    dispatcher_.SetAccepting(true);
  }

  void Run(fuzz::FuzzInput* input) {
    // One driver serves every input (a manager owns a communicator and its threads): each
    // input starts from the same settings.
    manager_.require_signed_ = false;
    manager_.answer_ = true;
    dispatcher_.SetVerifier(nullptr);
    dispatcher_.SetAccepting(true);
    while (!input->empty()) {
      switch (input->TakeByte() % 5) {
        case 0: {
          ResDBMessage envelope;
          envelope.ParseFromString(input->TakeBytes());
          const std::string identity = kIdentities[input->TakeByte() % 4];
          int answers = 0;
          dispatcher_.DispatchClientCall(
              envelope, [&answers](const Response&) { ++answers; }, identity);
          // The manager answered or dropped its Context by now; either way, once.
          if (answers != 1) Fail("a client call got no answer or more than one");
          break;
        }
        case 1: {
          ResDBMessage envelope;
          envelope.ParseFromString(input->TakeBytes());
          manager_.channel_id_ = input->TakeByte() % 4;
          dispatcher_.DispatchReplicaMessage(&envelope, manager_.channel_id_);
          break;
        }
        case 2: {
          ResDBMessage envelope;
          envelope.set_data(input->TakeBytes());
          envelope.mutable_signature()->set_node_id(input->TakeByte() % 4);
          envelope.mutable_signature()->set_signature(signer_->Sign(envelope.data()));
          manager_.channel_id_ = input->TakeByte() % 4;
          dispatcher_.DispatchReplicaMessage(&envelope, manager_.channel_id_);
          break;
        }
        case 3: {
          const uint8_t flags = input->TakeByte();
          manager_.require_signed_ = flags & 1;
          manager_.answer_ = flags & 2;
          dispatcher_.SetVerifier(manager_.require_signed_ ? TestKeyVerifier() : nullptr);
          break;
        }
        case 4:
          dispatcher_.SetAccepting(input->TakeByte() & 1);
          break;
      }
    }
  }

 private:
  static std::shared_ptr<Verifier> TestKeyVerifier() {
    auto verifier = std::make_shared<Verifier>();
    if (!verifier->AddPublicKeyFromPem(2, kFuzzTestPublicKey).ok()) Fail("bad test key");
    return verifier;
  }

  Stats stats_;
  ResDBConfig config_;
  RecordingConsensusManager manager_;
  MessageDispatcher dispatcher_;
  std::unique_ptr<Signer> signer_;
};

}  // namespace
}  // namespace resdb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdb::fuzz::FuzzInput input(data, size);
  static resdb::Driver* const driver = new resdb::Driver();
  driver->Run(&input);
  return 0;
}
