#include "platform/consensus/execution/state_image.h"

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "platform/storage/key_range.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace {

constexpr absl::string_view kMagic = "RSI1";

void PutSized(std::string* out, absl::string_view bytes) {
  PutFixed64(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

// Reads a size-prefixed string from `in` at `*pos`; false if the image ends inside it.
bool GetSized(absl::string_view in, size_t* pos, absl::string_view* out) {
  if (in.size() - *pos < 8) return false;
  const uint64_t size = GetFixed64(in.data() + *pos);
  *pos += 8;
  if (size > in.size() - *pos) return false;
  *out = in.substr(*pos, size);
  *pos += size;
  return true;
}

bool UnderAny(absl::string_view key, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    if (absl::StartsWith(key, prefix)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> EncodeStateImage(const StorageSnapshot& snapshot,
                                             const std::vector<std::string>& prefixes) {
  std::string image(kMagic);
  for (const std::string& prefix : prefixes) {
    absl::Status scanned = snapshot.Scan(prefix, PrefixSuccessor(prefix),
                                         [&](absl::string_view key, absl::string_view value) {
                                           PutSized(&image, key);
                                           PutSized(&image, value);
                                           return true;
                                         });
    if (!scanned.ok()) return scanned;
  }
  return image;
}

absl::Status InstallStateImage(Storage* storage, const std::vector<std::string>& prefixes,
                               absl::string_view image, bool sync) {
  if (!absl::StartsWith(image, kMagic)) {
    return absl::InvalidArgumentError("state image: does not start with \"RSI1\"");
  }
  WriteBatch batch;
  // The old state goes first in the batch, so a key present in both ends with its new value.
  for (const std::string& prefix : prefixes) {
    absl::Status scanned = storage->Scan(prefix, PrefixSuccessor(prefix),
                                         [&](absl::string_view key, absl::string_view) {
                                           batch.Delete(key);
                                           return true;
                                         });
    if (!scanned.ok()) return scanned;
  }
  size_t pos = kMagic.size();
  uint64_t pairs = 0;
  while (pos < image.size()) {
    absl::string_view key;
    absl::string_view value;
    if (!GetSized(image, &pos, &key) || !GetSized(image, &pos, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("state image: truncated in pair ", pairs + 1, " at byte ", pos));
    }
    if (!UnderAny(key, prefixes)) {
      return absl::InvalidArgumentError(absl::StrCat("state image: pair ", pairs + 1, " key ",
                                                     DescribeKey(key),
                                                     " is outside the state's key ranges"));
    }
    batch.Put(key, value);
    ++pairs;
  }
  return storage->Write(batch, sync);
}

}  // namespace resdb
