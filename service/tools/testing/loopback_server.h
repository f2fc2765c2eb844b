#ifndef SERVICE_TOOLS_TESTING_LOOPBACK_SERVER_H_
#define SERVICE_TOOLS_TESTING_LOOPBACK_SERVER_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"

namespace resdb {

// A plaintext gRPC server for `service` on 127.0.0.1, at a port the system picks (stored in
// `*port`). Throws std::runtime_error naming `who` if it cannot listen.
std::unique_ptr<grpc::Server> StartLoopbackServer(grpc::Service* service, int* port,
                                                  const std::string& who);

}  // namespace resdb

#endif  // SERVICE_TOOLS_TESTING_LOOPBACK_SERVER_H_
