#include "platform/common/fail_stop.h"

#include <glog/logging.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace resdb {

void FailStop(absl::string_view what, const absl::Status& status) {
  const std::string line = absl::StrCat(what, ": ", status.ToString(), "; stopping the replica");
  // glog copies ERROR lines to stderr as well as to the log file.
  LOG(ERROR) << line;
  google::FlushLogFiles(google::GLOG_INFO);
  std::_Exit(EXIT_FAILURE);
}

}  // namespace resdb
