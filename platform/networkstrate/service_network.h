#ifndef PLATFORM_NETWORKSTRATE_SERVICE_NETWORK_H_
#define PLATFORM_NETWORKSTRATE_SERVICE_NETWORK_H_

#include <condition_variable>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "platform/common/crypto/signature.h"
#include "platform/config/resdb_config.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/statistic/stats.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace resdb {

class MessageDispatcher;

// The gRPC endpoint of one replica: serves ResDBService on the self replica's ip:port and
// hands every valid incoming Request to the consensus manager (see MessageDispatcher for the
// checks). Client `Call`s stay open until the manager answers through Context::Reply (or
// drops the Context: UNAVAILABLE); replica `Stream`s deliver batches of envelopes without
// answers. Messages larger than config max_message_bytes are refused by gRPC
// (RESOURCE_EXHAUSTED) without affecting other calls.
//
// Lifecycle: Start() once; Stop() (also from the destructor). Thread-safe.
class ServiceNetwork {
 public:
  // `manager` must not be null. `stats` may be null (metrics are then kept privately);
  // otherwise it must outlive this object.
  ServiceNetwork(const ResDBConfig& config, std::unique_ptr<ConsensusManager> manager,
                 Stats* stats);
  ~ServiceNetwork();

  ServiceNetwork(const ServiceNetwork&) = delete;
  ServiceNetwork& operator=(const ServiceNetwork&) = delete;

  // Listens on the self replica's ip:port (port 0 picks a free port, see port()), then starts
  // the manager; traffic reaches the manager only once both succeeded. On failure (address
  // in use, manager start failed) returns an error naming the address and leaves nothing
  // running; Start may then be tried again.
  absl::Status Start();

  // Stops accepting traffic, shuts the server down (client calls still pending after a short
  // grace period are cancelled), then stops the manager and joins. Idempotent.
  void Stop();

  // Blocks until Stop() has completed; returns at once if the network is not running.
  void Wait();

  // The bound port once Start() succeeded, 0 before.
  int port() const;

  // Requires signed replica messages from now on (see MessageDispatcher::SetVerifier).
  void SetVerifier(std::shared_ptr<Verifier> verifier);

  ConsensusManager* manager() { return manager_.get(); }

 private:
  class Service;
  enum class State { kNew, kRunning, kStopping, kStopped };

  const ResDBConfig config_;
  std::unique_ptr<Stats> owned_stats_;
  // Declared before the dispatcher and the service, which use it: destroyed after them.
  std::unique_ptr<ConsensusManager> manager_;
  const std::unique_ptr<MessageDispatcher> dispatcher_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kNew;             // guarded by mu_
  int port_ = 0;                          // guarded by mu_
  std::unique_ptr<Service> service_;      // guarded by mu_
  std::unique_ptr<grpc::Server> server_;  // guarded by mu_
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_SERVICE_NETWORK_H_
