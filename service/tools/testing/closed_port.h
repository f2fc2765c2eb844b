#ifndef SERVICE_TOOLS_TESTING_CLOSED_PORT_H_
#define SERVICE_TOOLS_TESTING_CLOSED_PORT_H_

namespace resdb {

// A TCP port on 127.0.0.1 that is bound, so nobody else takes it, but not listening: a
// connection to it is refused. Stands for a replica that is down.
class ClosedPort {
 public:
  ClosedPort();
  ~ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace resdb

#endif  // SERVICE_TOOLS_TESTING_CLOSED_PORT_H_
