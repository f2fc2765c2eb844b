#include "platform/networkstrate/peer_sender.h"

#include <glog/logging.h>
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/proto/service.grpc.pb.h"

namespace resdb {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

// A repeated message field costs a one-byte tag and a length varint (at most 5 bytes for
// sizes below 4 GiB) on top of the message itself.
constexpr int64_t kFieldOverhead = 6;

// Pings an idle connection every 10 s and gives the peer 5 s to answer, so a peer that
// vanished without closing its socket is noticed even while nothing is being sent. The
// server side permits pings at this rate (see service_network.cpp).
constexpr int kKeepaliveTimeMs = 10000;
constexpr int kKeepaliveTimeoutMs = 5000;

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address, int64_t max_message_bytes,
                                           std::shared_ptr<grpc::ChannelCredentials> credentials,
                                           const std::string& target_name) {
  grpc::ChannelArguments args;
  if (!target_name.empty()) args.SetSslTargetNameOverride(target_name);
  const int max_bytes = static_cast<int>(std::min<int64_t>(max_message_bytes, INT32_MAX));
  args.SetMaxSendMessageSize(max_bytes);
  args.SetMaxReceiveMessageSize(max_bytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // One connection per peer sender, not shared with other channels to the same address
  // (another communicator in the same process), so each stream owns its connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, std::move(credentials), args);
}

// One `Stream` call. The context must outlive the writer.
struct OpenStream {
  grpc::ClientContext context;
  StreamSummary summary;
  std::unique_ptr<grpc::ClientWriter<ResDBMessageBatch>> writer;
  // True once a write on this stream succeeded.
  bool delivered = false;
};

}  // namespace

PeerSender::PeerSender(int64_t node_id, std::string address, Limits limits, Stats* stats)
    : node_id_(node_id), address_(std::move(address)), limits_(limits) {
  const std::string suffix = absl::StrCat("_peer_", node_id);
  auto pair = [&](const std::string& name) {
    return CounterPair{stats->GetCounter(name), stats->GetCounter(name + suffix)};
  };
  sent_messages_counter_ = pair("network_sent_messages");
  sent_batches_counter_ = pair("network_sent_batches");
  send_failures_counter_ = pair("network_send_failures");
  dropped_counter_ = pair("network_send_dropped");
  oversized_counter_ = pair("network_send_oversized");
  queue_gauge_total_ = stats->GetGauge("network_queue_messages");
  queue_gauge_peer_ = stats->GetGauge("network_queue_messages" + suffix);
}

PeerSender::~PeerSender() { Stop(); }

void PeerSender::Start(std::shared_ptr<grpc::ChannelCredentials> credentials,
                       const std::string& target_name) {
  std::lock_guard<std::mutex> join_lock(join_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  channel_ = MakeChannel(address_, limits_.max_message_bytes, std::move(credentials), target_name);
  thread_ = std::thread([this] { Run(); });
}

void PeerSender::RequestStop() {
  int64_t discarded = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      // The sender thread withdraws the context under mu_ before destroying it, so it is
      // alive here. Cancelling ends a blocked connect or write at once.
      if (active_context_ != nullptr) active_context_->TryCancel();
      discarded = static_cast<int64_t>(queue_.size());
      queue_.clear();
      queued_bytes_ = 0;
    }
  }
  cv_.notify_all();
  AddQueued(-discarded);
}

void PeerSender::Stop() {
  RequestStop();
  std::lock_guard<std::mutex> join_lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

bool PeerSender::Enqueue(ResDBMessage envelope) {
  const int64_t wire_bytes = static_cast<int64_t>(envelope.ByteSizeLong()) + kFieldOverhead;
  bool accepted = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepted = !stopping_ && wire_bytes <= limits_.max_message_bytes &&
               static_cast<int64_t>(queue_.size()) < limits_.max_queue_messages &&
               queued_bytes_ + wire_bytes <= limits_.max_queue_bytes;
    if (accepted) {
      queue_.push_back(QueuedEnvelope{std::move(envelope), wire_bytes});
      queued_bytes_ += wire_bytes;
      // Only the sender thread waits on cv_, and it waits for work only when the queue is
      // empty; otherwise it is writing and takes this envelope when the write completes.
      if (queue_.size() == 1) cv_.notify_one();
    }
  }
  if (accepted) {
    AddQueued(1);
  } else {
    CountDropped(1);
    if (wire_bytes > limits_.max_message_bytes) {
      // Batches and appends are bounded below the limit, so this is a bug worth seeing.
      oversized_counter_.Increment(1);
      LOG_EVERY_N(ERROR, 100) << "message of " << wire_bytes << " bytes to replica " << node_id_
                              << " exceeds max_message_bytes (" << limits_.max_message_bytes
                              << "); dropped";
    }
  }
  return accepted;
}

PeerStats PeerSender::GetStats() const {
  PeerStats stats;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats.queued_messages = static_cast<int64_t>(queue_.size());
    stats.queued_bytes = queued_bytes_;
  }
  stats.sent_messages = sent_messages_.load(std::memory_order_relaxed);
  stats.sent_batches = sent_batches_.load(std::memory_order_relaxed);
  stats.dropped = dropped_.load(std::memory_order_relaxed);
  stats.send_failures = send_failures_.load(std::memory_order_relaxed);
  stats.connected = connected_.load(std::memory_order_relaxed);
  return stats;
}

void PeerSender::Run() {
  std::unique_ptr<ResDBService::Stub> stub = ResDBService::NewStub(channel_);
  std::unique_ptr<OpenStream> stream;
  ResDBMessageBatch batch;
  std::chrono::milliseconds backoff = kMinBackoff;

  // Ends the current stream. A graceful close half-closes it so that writes still buffered
  // in the transport reach the peer before the status comes back (immediately when the
  // connection is gone; Stop() can still cancel it). Otherwise the call is cancelled and
  // Finish returns at once.
  auto close_stream = [&](bool graceful) {
    if (graceful) {
      stream->writer->WritesDone();
    } else {
      stream->context.TryCancel();
    }
    const grpc::Status status = stream->writer->Finish();
    SetActiveContext(nullptr);
    stream.reset();
    connected_.store(false, std::memory_order_relaxed);
    return status;
  };

  while (WaitForWork()) {
    // A stream whose connection is gone (peer restarted or vanished) cannot deliver any
    // more; noticing that before taking a batch saves the batch. Only streams that have
    // delivered are checked, so a stream still waiting for its connection is left alone.
    if (stream != nullptr && stream->delivered &&
        channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY) {
      LOG(INFO) << "connection to replica " << node_id_ << " at " << address_
                << " lost; reopening the stream";
      close_stream(/*graceful=*/true);
    }
    if (stream == nullptr) {
      stream = std::make_unique<OpenStream>();
      // Wait for the peer to become reachable rather than failing the stream at once: the
      // channel's reconnect backoff (100 ms .. 1 s) paces the attempts and Stop() cancels
      // the wait. Meanwhile envelopes accumulate in the bounded queue.
      stream->context.set_wait_for_ready(true);
      if (!SetActiveContext(&stream->context)) {
        stream.reset();
        break;
      }
      stream->writer = stub->Stream(&stream->context, &stream->summary);
    }

    batch.Clear();
    const int count = TakeBatch(&batch);
    if (count == 0) continue;
    // The sync Write returns once the batch is handed to the transport: exactly one write
    // is outstanding, and whatever is queued meanwhile forms the next batch.
    if (stream->writer->Write(batch)) {
      stream->delivered = true;
      sent_messages_.fetch_add(count, std::memory_order_relaxed);
      sent_batches_.fetch_add(1, std::memory_order_relaxed);
      sent_messages_counter_.Increment(count);
      sent_batches_counter_.Increment(1);
      connected_.store(true, std::memory_order_relaxed);
      backoff = kMinBackoff;
      continue;
    }

    const grpc::Status status = close_stream(/*graceful=*/false);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    CountDropped(count);
    send_failures_.fetch_add(1, std::memory_order_relaxed);
    send_failures_counter_.Increment(1);
    LOG(WARNING) << "stream to replica " << node_id_ << " at " << address_ << " failed ("
                 << status.error_code() << ": " << status.error_message() << "); dropped " << count
                 << " messages, reconnecting in " << backoff.count() << " ms";
    WaitBackoff(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }

  if (stream != nullptr) close_stream(/*graceful=*/false);
}

bool PeerSender::WaitForWork() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  return !stopping_;
}

int PeerSender::TakeBatch(ResDBMessageBatch* batch) {
  int count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t bytes = 0;
    while (!queue_.empty()) {
      QueuedEnvelope& next = queue_.front();
      // Enqueue guarantees one envelope always fits.
      if (count > 0 && bytes + next.wire_bytes > limits_.max_message_bytes) break;
      bytes += next.wire_bytes;
      queued_bytes_ -= next.wire_bytes;
      *batch->add_messages() = std::move(next.envelope);
      queue_.pop_front();
      ++count;
    }
  }
  AddQueued(-count);
  return count;
}

bool PeerSender::SetActiveContext(grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  if (context != nullptr && stopping_) return false;
  active_context_ = context;
  return true;
}

void PeerSender::WaitBackoff(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, delay, [this] { return stopping_; });
}

void PeerSender::AddQueued(int64_t messages) {
  if (messages == 0) return;
  queue_gauge_total_->Add(messages);
  queue_gauge_peer_->Add(messages);
}

void PeerSender::CountDropped(uint64_t messages) {
  dropped_.fetch_add(messages, std::memory_order_relaxed);
  dropped_counter_.Increment(messages);
}

}  // namespace resdb
