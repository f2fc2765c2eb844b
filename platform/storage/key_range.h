#ifndef PLATFORM_STORAGE_KEY_RANGE_H_
#define PLATFORM_STORAGE_KEY_RANGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace resdb {

// The smallest key greater than every key that starts with `prefix`, i.e. the exclusive end
// of the prefix range. Empty when no such key exists (the prefix is empty or all 0xFF bytes),
// which Storage::Scan reads as "to the last key".
std::string PrefixSuccessor(absl::string_view prefix);

}  // namespace resdb

#endif  // PLATFORM_STORAGE_KEY_RANGE_H_
