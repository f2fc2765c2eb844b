#include "platform/networkstrate/replica_communicator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "platform/networkstrate/test_config.h"

namespace resdb {
namespace {

using testing_util::MakeTestConfig;

constexpr int64_t kSelf = 1;
constexpr int64_t kPeer = 2;
constexpr int kQueueBound = 1000;

// A TCP socket bound to a free 127.0.0.1 port for the life of the test. Not listening: every
// connection to it is refused. Listening (and never accepting): connections hang in the
// handshake, like a peer that is up but unresponsive.
class ReservedPort {
 public:
  explicit ReservedPort(bool listen_without_accepting) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    if (listen_without_accepting) {
      EXPECT_EQ(listen(fd_, 16), 0);
    }
  }
  ~ReservedPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

ResDBConfig ConfigWithPeerAt(int port) {
  ResConfigData base;
  base.set_max_message_bytes(1 << 20);
  base.set_max_peer_queue_messages(kQueueBound);
  return MakeTestConfig(kSelf, {{kSelf, 0}, {kPeer, port}}, base);
}

Request Message(uint64_t seq) {
  Request request;
  request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
  request.set_sender_id(kSelf);
  request.set_seq(seq);
  request.set_data(std::string(100, 'x'));
  return request;
}

void ExpectNeverBlocks(int port) {
  Stats stats;
  ReplicaCommunicator communicator(ConfigWithPeerAt(port), &stats);
  ASSERT_TRUE(communicator.Start().ok());

  constexpr int kMessages = 100000;
  int accepted = 0;
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < kMessages; ++i) {
    if (communicator.SendMessage(Message(i), kPeer)) ++accepted;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(3));

  const PeerStats peer = communicator.GetPeerStats(kPeer);
  EXPECT_LE(peer.queued_messages, kQueueBound);
  // Accepted messages are queued or held by the one write waiting for the peer (at most one
  // queue's worth); no write can have failed, so every refused message is counted once.
  EXPECT_LE(accepted, 2 * kQueueBound);
  EXPECT_EQ(peer.dropped + accepted, kMessages);
  EXPECT_EQ(peer.sent_messages, 0);
  EXPECT_FALSE(peer.connected);
  EXPECT_EQ(stats.CounterValue("network_send_dropped"), peer.dropped);
  EXPECT_EQ(stats.CounterValue("network_send_dropped_peer_2"), peer.dropped);
  EXPECT_LE(stats.GaugeValue("network_queue_messages"), kQueueBound);

  const auto stop_begin = std::chrono::steady_clock::now();
  communicator.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_begin, std::chrono::seconds(2));
  EXPECT_EQ(stats.GaugeValue("network_queue_messages"), 0);
  EXPECT_FALSE(communicator.SendMessage(Message(0), kPeer));
}

TEST(ReplicaCommunicatorTest, RefusedPeerNeverBlocksTheCaller) {
  ReservedPort refused(/*listen_without_accepting=*/false);
  ExpectNeverBlocks(refused.port());
}

TEST(ReplicaCommunicatorTest, UnresponsivePeerNeverBlocksTheCaller) {
  ReservedPort silent(/*listen_without_accepting=*/true);
  ExpectNeverBlocks(silent.port());
}

TEST(ReplicaCommunicatorTest, StopWithoutStartAndTwice) {
  ReservedPort refused(false);
  ReplicaCommunicator communicator(ConfigWithPeerAt(refused.port()), nullptr);
  communicator.Stop();
  communicator.Stop();
  EXPECT_FALSE(communicator.Start().ok());
}

TEST(ReplicaCommunicatorTest, RefusesUnknownPeersSelfAndOversizedMessages) {
  ReservedPort refused(false);
  Stats stats;
  ReplicaCommunicator communicator(ConfigWithPeerAt(refused.port()), &stats);
  ASSERT_TRUE(communicator.Start().ok());
  EXPECT_FALSE(communicator.SendMessage(Message(0), 7));
  EXPECT_FALSE(communicator.SendMessage(Message(0), kSelf));
  Request huge = Message(1);
  huge.set_data(std::string(1 << 20, 'x'));
  EXPECT_FALSE(communicator.SendMessage(huge, kPeer));
  EXPECT_EQ(communicator.GetPeerStats(kPeer).dropped, 1);
  EXPECT_EQ(communicator.GetPeerStats(7).dropped, 0);
}

}  // namespace
}  // namespace resdb
