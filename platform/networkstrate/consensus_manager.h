#ifndef PLATFORM_NETWORKSTRATE_CONSENSUS_MANAGER_H_
#define PLATFORM_NETWORKSTRATE_CONSENSUS_MANAGER_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "platform/networkstrate/context.h"
#include "platform/networkstrate/replica_communicator.h"
#include "platform/proto/resdb.pb.h"
#include "platform/statistic/stats.h"

namespace resdb {

// The consensus protocol behind a ServiceNetwork (PBFT, RAFT, ...). The transport hands it
// every valid incoming Request, client calls and replica messages through entry points of
// their own; it talks to the other replicas through GetCommunicator().
//
// The base class owns the ReplicaCommunicator for the config's replicas and a heartbeat
// thread that calls HeartBeat() every config heartbeat_interval_ms between Start() and
// Stop(). A derived class whose HeartBeat() or other thread-facing code uses its own members
// must call Stop() in its destructor, before those members are destroyed.
class ConsensusManager {
 public:
  // `stats` may be null (metrics are then kept privately); otherwise it must outlive this
  // object.
  explicit ConsensusManager(const ResDBConfig& config, Stats* stats = nullptr);
  // Calls Stop().
  virtual ~ConsensusManager();

  ConsensusManager(const ConsensusManager&) = delete;
  ConsensusManager& operator=(const ConsensusManager&) = delete;

  // Starts the communicator and the heartbeat thread. Overrides must call this. Fails when
  // called twice or after Stop().
  virtual absl::Status Start();
  // Stops and joins the heartbeat thread, then stops the communicator. Overrides must call
  // this. Idempotent.
  virtual void Stop();

  // A client call that passed the transport's validation. `context` answers it (see Context)
  // and carries the envelope's signature and signed bytes and the caller's identity. Called
  // from transport threads, possibly concurrently; must not block for long. Returns 0 when the
  // call is accepted, a negative value when it is rejected.
  virtual int OnClientCall(std::unique_ptr<Context> context, std::unique_ptr<Request> request) = 0;
  // A message from another replica's stream that passed the transport's validation (with
  // replica keys, signed by its sender). `envelope` is what it arrived in: the signed bytes
  // and the signature, which a protocol may keep as evidence. Same threads and result as
  // OnClientCall; there is no one to answer.
  virtual int OnReplicaMessage(std::unique_ptr<Request> request, ResDBMessage envelope) = 0;

  // Current leader / primary id, 0 if unknown.
  virtual int64_t GetPrimary() = 0;
  // Current term (RAFT) or view (PBFT).
  virtual uint64_t GetVersion() = 0;

  // What Request{type = TYPE_STATUS} is answered with. The default fills id, protocol (from
  // the config), leader_id = GetPrimary() and term = GetVersion(); protocols add their own
  // fields. Called from transport threads; must be thread-safe.
  virtual ReplicaStatus GetStatus();

  // Whether replica `id` is a current member, whose stream the transport accepts (learners
  // included). The default: a replica of the config or a peer added at run time. Called from
  // transport threads; must be thread-safe and cheap.
  virtual bool IsReplicaMember(int64_t id);

  // If `request` is a TYPE_STATUS client call, answers it through `context` with
  // Response{OK, data = serialized GetStatus()} and returns true; otherwise returns false and
  // touches nothing. Derived OnClientCall implementations call it first.
  bool AnswerStatusRequest(const Request& request, Context* context);

  // Signs every message the communicator sends from now on (see ReplicaCommunicator).
  void SetSigner(std::unique_ptr<Signer> signer);

  ReplicaCommunicator* GetCommunicator() { return communicator_.get(); }
  const ResDBConfig& config() const { return config_; }
  // Never null.
  Stats* stats() { return stats_; }

 protected:
  // Runs on the heartbeat thread every heartbeat_interval_ms (measured from the end of the
  // previous call). The default broadcasts Request{type = TYPE_HEART_BEAT, sender_id = self}.
  virtual void HeartBeat();

 private:
  void HeartBeatLoop();

  const ResDBConfig config_;
  std::unique_ptr<Stats> owned_stats_;
  Stats* const stats_;
  std::unique_ptr<ReplicaCommunicator> communicator_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;   // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::mutex join_mu_;     // serializes Start/Stop around the thread object
  std::thread heartbeat_thread_;
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_CONSENSUS_MANAGER_H_
