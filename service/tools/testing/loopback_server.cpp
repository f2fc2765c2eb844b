#include "service/tools/testing/loopback_server.h"

#include <stdexcept>

namespace resdb {

std::unique_ptr<grpc::Server> StartLoopbackServer(grpc::Service* service, int* port,
                                                  const std::string& who) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || *port == 0) {
    throw std::runtime_error(who + ": cannot listen on 127.0.0.1");
  }
  return server;
}

}  // namespace resdb
