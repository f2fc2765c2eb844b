#include "platform/consensus/replica/protocol_thread.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace resdb {

absl::Status ProtocolThread::Start(const std::function<absl::Status()>& before,
                                   std::function<void()> loop) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stopping_.load()) {
      return absl::FailedPreconditionError(absl::StrCat(name_, " already started or stopped"));
    }
    started_ = true;
  }
  absl::Status status = before();
  if (!status.ok()) return status;
  std::lock_guard<std::mutex> lock(join_mu_);
  thread_ = std::thread(std::move(loop));
  return absl::OkStatus();
}

void ProtocolThread::BeginStop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_.store(true);
}

void ProtocolThread::Join() {
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

}  // namespace resdb
