#include "platform/storage/prefix_allocator.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "platform/storage/prefixed_storage.h"

namespace resdb {
namespace {

std::string Describe(absl::string_view prefix, absl::string_view owner) {
  return absl::StrCat("prefix \"", absl::CHexEscape(prefix), "\" (owner \"", owner, "\")");
}

}  // namespace

absl::Status PrefixAllocator::Register(absl::string_view prefix, absl::string_view owner) {
  if (prefix.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "owner \"", owner, "\" asked for an empty prefix, which would cover every key"));
  }
  if (prefix[0] == '\xff') {
    return absl::InvalidArgumentError(absl::StrCat("cannot register ", Describe(prefix, owner),
                                                   ": keys starting with 0xFF are reserved"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [existing, existing_owner] : owners_) {
    if (absl::StartsWith(existing, prefix) || absl::StartsWith(prefix, existing)) {
      return absl::AlreadyExistsError(absl::StrCat("cannot register ", Describe(prefix, owner),
                                                   ": it overlaps ",
                                                   Describe(existing, existing_owner)));
    }
  }
  owners_.emplace(std::string(prefix), std::string(owner));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Storage>> PrefixAllocator::Allocate(Storage* base,
                                                                   absl::string_view prefix,
                                                                   absl::string_view owner) {
  if (base == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("owner \"", owner, "\" asked for a view of a null storage"));
  }
  if (absl::Status status = Register(prefix, owner); !status.ok()) return status;
  return std::make_unique<PrefixedStorage>(base, prefix);
}

std::vector<std::pair<std::string, std::string>> PrefixAllocator::Registered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {owners_.begin(), owners_.end()};
}

}  // namespace resdb
