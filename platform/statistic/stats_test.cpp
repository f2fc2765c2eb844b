#include "platform/statistic/stats.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace {

TEST(StatsTest, CountersAndGaugesStartAtZeroAndAccumulate) {
  Stats stats;
  EXPECT_EQ(stats.CounterValue("requests"), 0u);
  Counter* requests = stats.GetCounter("requests");
  requests->Increment();
  stats.Increment("requests", 4);
  EXPECT_EQ(stats.CounterValue("requests"), 5u);
  EXPECT_EQ(stats.GetCounter("requests"), requests);

  stats.GetGauge("queue_length")->Set(7);
  stats.GetGauge("queue_length")->Add(-2);
  EXPECT_EQ(stats.GaugeValue("queue_length"), 5);
  EXPECT_EQ(stats.Snapshot().at("requests"), 5);
  EXPECT_EQ(stats.Snapshot().at("queue_length"), 5);
}

TEST(StatsTest, ConcurrentIncrementsAreNotLost) {
  Stats stats;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&stats] {
      Counter* counter = stats.GetCounter("hits");
      for (int i = 0; i < 10000; ++i) counter->Increment();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(stats.CounterValue("hits"), 40000u);
}

// Fetches http://127.0.0.1:port/metrics with a plain socket.
std::string FetchMetrics(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string body;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) body.append(buf, n);
  close(fd);
  return body;
}

// Picks a free port by binding port 0 and releasing it.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(StatsTest, ExporterServesPrometheusText) {
  Stats stats;
  stats.Increment("client_requests", 3);
  stats.GetGauge("leader_id")->Set(2);
  const int port = FreePort();
  ASSERT_TRUE(stats.StartExporter("127.0.0.1:" + std::to_string(port)).ok());
  const std::string body = FetchMetrics(port);
  EXPECT_NE(body.find("resdb_client_requests 3"), std::string::npos) << body;
  EXPECT_NE(body.find("resdb_leader_id 2"), std::string::npos) << body;
}

TEST(StatsTest, ExporterOnBusyPortFailsWithoutThrowing) {
  Stats first;
  const int port = FreePort();
  ASSERT_TRUE(first.StartExporter("127.0.0.1:" + std::to_string(port)).ok());
  Stats second;
  absl::Status status = second.StartExporter("127.0.0.1:" + std::to_string(port));
  EXPECT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("cannot serve metrics"), std::string::npos);
}

}  // namespace
}  // namespace resdb
