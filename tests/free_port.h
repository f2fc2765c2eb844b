#ifndef TESTS_FREE_PORT_H_
#define TESTS_FREE_PORT_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace resdb {
namespace testing_util {

// A 127.0.0.1 port that was free a moment ago: bound to port 0 and released. Another process
// may take it before the caller binds it, so callers retry on fresh ports.
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace testing_util
}  // namespace resdb

#endif  // TESTS_FREE_PORT_H_
