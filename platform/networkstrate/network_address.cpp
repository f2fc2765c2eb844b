#include "platform/networkstrate/network_address.h"

#include "absl/strings/str_cat.h"

namespace resdb {

std::string HostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos && host.front() != '[') {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace resdb
