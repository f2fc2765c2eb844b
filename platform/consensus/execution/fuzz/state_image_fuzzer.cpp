// A state image arrives as the data of a snapshot from the leader and replaces a replica's
// state. A malformed image must be refused with nothing written; an image that installs must
// encode back to an image that installs to the same state, and keys outside the given
// prefixes must stay untouched.
//
// Input: the image bytes.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "platform/consensus/execution/state_image.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace {

const std::vector<std::string>& Prefixes() {
  static const std::vector<std::string> prefixes = {"data/", "table/"};
  return prefixes;
}

void Fail(const std::string& what) {
  std::fprintf(stderr, "state_image_fuzzer: %s\n", what.c_str());
  std::abort();
}

void Run(const std::string& image) {
  std::unique_ptr<Storage> storage = NewMemoryStorage();
  storage->Put("data/old", "1").IgnoreError();
  storage->Put("other", "kept").IgnoreError();
  if (!InstallStateImage(storage.get(), Prefixes(), image, false).ok()) {
    absl::StatusOr<std::string> old = storage->Get("data/old");
    if (!old.ok() || *old != "1") Fail("a refused image changed the state");
    return;
  }
  absl::StatusOr<std::string> other = storage->Get("other");
  if (!other.ok() || *other != "kept") Fail("an image changed a key outside its prefixes");
  absl::StatusOr<std::string> encoded = EncodeStateImage(*storage->NewSnapshot(), Prefixes());
  if (!encoded.ok()) Fail("an installed image does not encode: " + encoded.status().ToString());
  std::unique_ptr<Storage> copy = NewMemoryStorage();
  if (!InstallStateImage(copy.get(), Prefixes(), *encoded, false).ok()) {
    Fail("an encoded image does not install");
  }
  absl::StatusOr<std::string> again = EncodeStateImage(*copy->NewSnapshot(), Prefixes());
  if (!again.ok() || *again != *encoded) Fail("an image does not round-trip");
}

}  // namespace
}  // namespace resdb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdb::Run(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
