#ifndef PLATFORM_COMMON_FAIL_STOP_H_
#define PLATFORM_COMMON_FAIL_STOP_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace resdb {

// Ends the process at once because a write the replica depends on failed: answering or going
// on would promise what is not on disk. Logs one line naming `what` and `status`, flushes the
// log and exits with status 1 without running destructors, so nothing else is written on the
// way out. A restarted replica recovers from its durable log.
[[noreturn]] void FailStop(absl::string_view what, const absl::Status& status);

// FailStop(what, status) unless `status` is OK.
inline void FailStopIfError(absl::string_view what, const absl::Status& status) {
  if (!status.ok()) FailStop(what, status);
}

}  // namespace resdb

#endif  // PLATFORM_COMMON_FAIL_STOP_H_
