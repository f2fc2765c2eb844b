#ifndef PLATFORM_NETWORKSTRATE_NETWORK_ADDRESS_H_
#define PLATFORM_NETWORKSTRATE_NETWORK_ADDRESS_H_

#include <string>

namespace resdb {

// "host:port" as gRPC expects it; IPv6 literals are bracketed ("[::1]:10001").
std::string HostPort(const std::string& host, int port);

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_NETWORK_ADDRESS_H_
