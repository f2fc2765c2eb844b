#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_WATERMARKS_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_WATERMARKS_H_

#include <cstdint>

namespace resdb {
namespace pbft {

// The window of sequence numbers a replica accepts: (low, high], where low is the sequence
// number of the latest stable checkpoint and high = low + window. A message at or below low
// belongs to state already garbage collected; one above high is too far ahead (it would let
// a faulty primary exhaust the sequence space or memory).
class Watermarks {
 public:
  // `window` is PbftConfig.watermark_window. low starts at 0 (the genesis checkpoint).
  explicit Watermarks(uint64_t window);

  uint64_t low() const { return low_; }
  uint64_t high() const { return low_ + window_; }
  uint64_t window() const { return window_; }

  // low < seq <= high.
  bool InWindow(uint64_t seq) const;

  // Moves low to `stable_checkpoint` if that is higher; never moves backwards. Returns true
  // if low changed.
  bool Advance(uint64_t stable_checkpoint);

 private:
  uint64_t window_;
  uint64_t low_ = 0;
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_WATERMARKS_H_
