#include "platform/consensus/ordering/pbft/message_validator.h"

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"

namespace resdb {
namespace pbft {
namespace {

constexpr size_t kDigestBytes = 32;

std::string TypeName(Request::Type type) {
  const std::string& name = Request::Type_Name(type);
  if (name.empty()) return absl::StrCat("type ", static_cast<int>(type));
  // Drop the "TYPE_" prefix: "PRE_PREPARE".
  return name.substr(name.rfind("TYPE_", 0) == 0 ? 5 : 0);
}

}  // namespace

MessageValidator::MessageValidator(int replica_num) : replica_num_(replica_num) {}

int64_t MessageValidator::PrimaryOf(uint64_t view, int replica_num) {
  if (replica_num <= 0) return 0;
  return static_cast<int64_t>(view % static_cast<uint64_t>(replica_num)) + 1;
}

absl::Status MessageValidator::Validate(const Request& request, uint64_t current_view,
                                        const Watermarks& watermarks) const {
  switch (request.type()) {
    case Request::TYPE_PRE_PREPARE:
    case Request::TYPE_PREPARE:
    case Request::TYPE_COMMIT:
    case Request::TYPE_CHECKPOINT:
    case Request::TYPE_VIEWCHANGE:
    case Request::TYPE_NEWVIEW:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("type: ", TypeName(request.type()), " is not a PBFT replica message"));
  }
  const std::string type = TypeName(request.type());

  if (request.sender_id() < 1 || request.sender_id() > replica_num_) {
    return absl::InvalidArgumentError(absl::StrCat(type, " sender_id: ", request.sender_id(),
                                                   " is not a replica id in 1..", replica_num_));
  }

  switch (request.type()) {
    case Request::TYPE_PRE_PREPARE:
    case Request::TYPE_PREPARE:
    case Request::TYPE_COMMIT:
      return ValidateOrdering(request, current_view, watermarks);

    case Request::TYPE_CHECKPOINT:
      if (request.seq() <= watermarks.low()) {
        return absl::OutOfRangeError(absl::StrCat(
            type, " seq: ", request.seq(), " is at or below the low watermark ", watermarks.low()));
      }
      if (request.hash().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(type, " hash: state digest is missing"));
      }
      return absl::OkStatus();

    case Request::TYPE_VIEWCHANGE:
    case Request::TYPE_NEWVIEW:
      if (request.view() < current_view) {
        return absl::FailedPreconditionError(absl::StrCat(
            type, " view: ", request.view(), " is below the current view ", current_view));
      }
      if (request.type() == Request::TYPE_NEWVIEW &&
          request.sender_id() != PrimaryOf(request.view())) {
        return absl::PermissionDeniedError(
            absl::StrCat(type, " sender_id: replica ", request.sender_id(), " is not the primary ",
                         PrimaryOf(request.view()), " of view ", request.view()));
      }
      return absl::OkStatus();

    default:
      return absl::InternalError("unreachable");
  }
}

absl::Status MessageValidator::ValidateOrdering(const Request& request, uint64_t current_view,
                                                const Watermarks& watermarks) const {
  const std::string type = TypeName(request.type());
  if (request.view() != current_view) {
    return absl::FailedPreconditionError(
        absl::StrCat(type, " view: ", request.view(), " is not the current view ", current_view));
  }
  if (request.type() == Request::TYPE_PRE_PREPARE &&
      request.sender_id() != PrimaryOf(current_view)) {
    return absl::PermissionDeniedError(
        absl::StrCat(type, " sender_id: replica ", request.sender_id(), " is not the primary ",
                     PrimaryOf(current_view), " of view ", current_view));
  }
  if (!watermarks.InWindow(request.seq())) {
    return absl::OutOfRangeError(absl::StrCat(type, " seq: ", request.seq(),
                                              " is outside the watermarks (", watermarks.low(),
                                              ", ", watermarks.high(), "]"));
  }
  if (request.hash().size() != kDigestBytes) {
    return absl::InvalidArgumentError(
        request.hash().empty() ? absl::StrCat(type, " hash: digest is missing")
                               : absl::StrCat(type, " hash: digest is ", request.hash().size(),
                                              " bytes, not ", kDigestBytes));
  }
  if (request.type() == Request::TYPE_PRE_PREPARE && !DigestMatches(request)) {
    return absl::InvalidArgumentError(
        absl::StrCat(type, " hash: digest does not match the batch in data"));
  }
  return absl::OkStatus();
}

}  // namespace pbft
}  // namespace resdb
