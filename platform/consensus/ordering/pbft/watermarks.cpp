#include "platform/consensus/ordering/pbft/watermarks.h"

namespace resdb {
namespace pbft {

Watermarks::Watermarks(uint64_t window) : window_(window) {}

bool Watermarks::InWindow(uint64_t seq) const {
  // Written as a difference so that low + window cannot overflow the comparison.
  return seq > low_ && seq - low_ <= window_;
}

bool Watermarks::Advance(uint64_t stable_checkpoint) {
  if (stable_checkpoint <= low_) return false;
  low_ = stable_checkpoint;
  return true;
}

}  // namespace pbft
}  // namespace resdb
