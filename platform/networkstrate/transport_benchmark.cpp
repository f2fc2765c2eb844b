// Replica-to-replica throughput of the transport: one ReplicaCommunicator streams messages
// to one ServiceNetwork on 127.0.0.1, both in this process. Prints messages per second,
// messages per stream write (the batching the send queue achieves) and CPU per message,
// summed over both sides.
//
//   bazel run -c opt //platform/networkstrate:transport_benchmark -- --messages 1000000
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "gflags/gflags.h"
#include "glog/logging.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/networkstrate/replica_communicator.h"
#include "platform/networkstrate/service_network.h"
#include "platform/networkstrate/test_config.h"

DEFINE_int64(messages, 1000000, "Messages to send.");
DEFINE_int32(payload_bytes, 256, "Bytes of Request.data per message.");

namespace resdb {
namespace {

// Counts what arrives and wakes the benchmark when everything did.
class CountingManager : public ConsensusManager {
 public:
  CountingManager(const ResDBConfig& config, int64_t expected)
      : ConsensusManager(config), expected_(expected) {}
  ~CountingManager() override { Stop(); }

  int OnClientCall(std::unique_ptr<Context>, std::unique_ptr<Request>) override { return Count(); }
  int OnReplicaMessage(std::unique_ptr<Request>, ResDBMessage) override { return Count(); }
  int Count() {
    std::lock_guard<std::mutex> lock(mu_);
    if (++received_ == expected_) done_.notify_all();
    return 0;
  }
  int64_t GetPrimary() override { return 0; }
  uint64_t GetVersion() override { return 0; }

  bool WaitForAll(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_.wait_for(lock, timeout, [this] { return received_ >= expected_; });
  }
  int64_t received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  const int64_t expected_;
  std::mutex mu_;
  std::condition_variable done_;
  int64_t received_ = 0;
};

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int Run() {
  ResConfigData base;
  base.set_max_peer_queue_messages(static_cast<int32_t>(FLAGS_messages));
  base.set_max_peer_queue_bytes(int64_t{4} << 30);
  ResDBConfig receiver_config = testing_util::MakeTestConfig(2, {{1, 0}, {2, 0}}, base);
  auto manager = std::make_unique<CountingManager>(receiver_config, FLAGS_messages);
  CountingManager* counter = manager.get();
  ServiceNetwork receiver(receiver_config, std::move(manager), nullptr);
  if (absl::Status started = receiver.Start(); !started.ok()) {
    std::fprintf(stderr, "transport_benchmark: %s\n", std::string(started.message()).c_str());
    return 1;
  }

  ResDBConfig sender_config = testing_util::MakeTestConfig(1, {{1, 0}, {2, receiver.port()}}, base);
  ReplicaCommunicator sender(sender_config, nullptr);
  (void)sender.Start();

  Request request;
  request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
  request.set_sender_id(1);
  request.set_data(std::string(FLAGS_payload_bytes, 'x'));

  const double cpu_start = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  int64_t dropped = 0;
  for (int64_t i = 0; i < FLAGS_messages; ++i) {
    request.set_seq(i);
    if (!sender.SendMessage(request, 2)) ++dropped;
  }
  const bool complete = counter->WaitForAll(std::chrono::seconds(120));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = CpuSeconds() - cpu_start;
  const PeerStats stats = sender.GetPeerStats(2);
  const int64_t received = counter->received();

  std::printf("messages sent          %lld (dropped %lld)\n", (long long)FLAGS_messages,
              (long long)dropped);
  std::printf("messages received      %lld%s\n", (long long)received,
              complete ? "" : " (incomplete after 120 s)");
  std::printf("payload bytes          %d\n", FLAGS_payload_bytes);
  std::printf("throughput             %.0f msgs/s\n", received / seconds);
  std::printf("stream writes          %lld (%.1f messages per write)\n",
              (long long)stats.sent_batches,
              stats.sent_batches ? double(stats.sent_messages) / stats.sent_batches : 0.0);
  std::printf("cpu per message        %.2f us (both sides)\n",
              cpu * 1e6 / std::max<int64_t>(1, received));
  sender.Stop();
  receiver.Stop();
  return complete ? 0 : 1;
}

}  // namespace
}  // namespace resdb

int main(int argc, char** argv) {
  gflags::SetUsageMessage("replica-to-replica transport throughput on 127.0.0.1");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  return resdb::Run();
}
