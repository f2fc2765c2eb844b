#ifndef PLATFORM_NETWORKSTRATE_PEER_STATS_H_
#define PLATFORM_NETWORKSTRATE_PEER_STATS_H_

#include <cstdint>

namespace resdb {

// A snapshot of one peer's send path, for tests and diagnostics.
struct PeerStats {
  // Envelopes waiting in the peer's queue (not counting the write in flight) and their size.
  int64_t queued_messages = 0;
  int64_t queued_bytes = 0;
  // Envelopes and stream writes that the stream accepted.
  uint64_t sent_messages = 0;
  uint64_t sent_batches = 0;
  // Envelopes refused by a full queue, too big for one write, or lost in a failed write.
  uint64_t dropped = 0;
  // Stream writes that failed (the stream was then re-established).
  uint64_t send_failures = 0;
  // True while a stream is open and its last write succeeded.
  bool connected = false;
};

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_PEER_STATS_H_
