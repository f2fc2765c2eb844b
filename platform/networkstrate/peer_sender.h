#ifndef PLATFORM_NETWORKSTRATE_PEER_SENDER_H_
#define PLATFORM_NETWORKSTRATE_PEER_SENDER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "platform/networkstrate/peer_stats.h"
#include "platform/proto/resdb.pb.h"
#include "platform/statistic/stats.h"

namespace grpc {
class Channel;
class ChannelCredentials;
class ClientContext;
}  // namespace grpc

namespace resdb {

// The send path to one peer: a bounded queue of envelopes and one thread that keeps a single
// client-streaming `Stream` call open and, each time the previous write has completed, writes
// everything queued (up to max_message_bytes) as one ResDBMessageBatch. Batching therefore
// grows with load and adds no delay when idle. The stream is opened when the first envelope is
// queued and re-opened after a failure, with a backoff of 100 ms doubling up to 1 s.
//
// Enqueue never waits on the network. Thread-safe.
class PeerSender {
 public:
  struct Limits {
    // Largest stream write; also the largest single envelope accepted.
    int64_t max_message_bytes = 0;
    // Queue bounds; an envelope that would exceed either is dropped.
    int64_t max_queue_messages = 0;
    int64_t max_queue_bytes = 0;
  };

  // `stats` must outlive this object and must not be null.
  PeerSender(int64_t node_id, std::string address, Limits limits, Stats* stats);
  // Stops and joins.
  ~PeerSender();

  PeerSender(const PeerSender&) = delete;
  PeerSender& operator=(const PeerSender&) = delete;

  // Creates the channel with `credentials` and the sender thread. A non-empty `target_name`
  // is the name the peer's TLS certificate must carry (instead of the dialled address).
  // Envelopes queued before Start are kept.
  void Start(std::shared_ptr<grpc::ChannelCredentials> credentials, const std::string& target_name);
  // Cancels the stream (also one that is still connecting) and discards what is queued,
  // without waiting for the thread. Idempotent; a stopped sender cannot be restarted.
  void RequestStop();
  // RequestStop(), then joins the thread. Returns promptly even if the peer is unreachable.
  void Stop();

  // Queues `envelope`. Returns false, counting the envelope as dropped, when the queue is
  // full, the envelope alone exceeds max_message_bytes, or the sender is stopped.
  bool Enqueue(ResDBMessage envelope);

  PeerStats GetStats() const;
  int64_t node_id() const { return node_id_; }

 private:
  // A process-wide counter and this peer's own one, updated together.
  struct CounterPair {
    Counter* total;
    Counter* peer;
    void Increment(uint64_t delta) const {
      total->Increment(delta);
      peer->Increment(delta);
    }
  };
  struct QueuedEnvelope {
    ResDBMessage envelope;
    int64_t wire_bytes;
  };

  void Run();
  // Blocks until something is queued or Stop() was called; false when stopping.
  bool WaitForWork();
  // Moves queued envelopes into `batch` while they fit in one write; returns how many.
  int TakeBatch(ResDBMessageBatch* batch);
  // Publishes the context of the stream being opened so Stop() can cancel it; false (and
  // nothing published) when stopping. nullptr withdraws it.
  bool SetActiveContext(grpc::ClientContext* context);
  // Waits `delay` unless Stop() is called first.
  void WaitBackoff(std::chrono::milliseconds delay);
  void AddQueued(int64_t messages);
  void CountDropped(uint64_t messages);

  const int64_t node_id_;
  const std::string address_;
  const Limits limits_;

  CounterPair sent_messages_counter_;
  CounterPair sent_batches_counter_;
  CounterPair send_failures_counter_;
  CounterPair dropped_counter_;
  CounterPair oversized_counter_;
  Gauge* queue_gauge_total_;
  Gauge* queue_gauge_peer_;

  std::atomic<uint64_t> sent_messages_{0};
  std::atomic<uint64_t> sent_batches_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> send_failures_{0};
  std::atomic<bool> connected_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedEnvelope> queue_;               // guarded by mu_
  int64_t queued_bytes_ = 0;                       // guarded by mu_
  bool started_ = false;                           // guarded by mu_
  bool stopping_ = false;                          // guarded by mu_
  grpc::ClientContext* active_context_ = nullptr;  // guarded by mu_
  std::shared_ptr<grpc::Channel> channel_;         // set in Start under mu_, then read-only

  std::mutex join_mu_;  // serializes concurrent Stop() calls around join
  std::thread thread_;
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_PEER_SENDER_H_
