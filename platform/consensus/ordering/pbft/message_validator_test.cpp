#include "platform/consensus/ordering/pbft/message_validator.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"

namespace resdb {
namespace pbft {
namespace {

constexpr int kReplicas = 4;

std::string Batch(const std::string& payload) {
  BatchUserRequest batch;
  batch.add_requests()->set_data(payload);
  std::string out;
  batch.SerializeToString(&out);
  return out;
}

Request Ordering(Request::Type type, int64_t sender, uint64_t view, uint64_t seq) {
  Request request;
  request.set_type(type);
  request.set_sender_id(sender);
  request.set_view(view);
  request.set_seq(seq);
  request.set_data(Batch("set k v"));
  request.set_hash(BatchDigest(request.data()));
  if (type != Request::TYPE_PRE_PREPARE) request.clear_data();
  return request;
}

class MessageValidatorTest : public ::testing::Test {
 protected:
  absl::Status Check(const Request& request) const {
    return validator_.Validate(request, view_, watermarks_);
  }
  void ExpectRejected(const Request& request, absl::StatusCode code,
                      const std::string& message_part) const {
    absl::Status status = Check(request);
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), message_part)) << status;
  }

  MessageValidator validator_{kReplicas};
  Watermarks watermarks_{400};
  uint64_t view_ = 0;
};

TEST(MessageValidatorPrimaryTest, Validator_PrimaryRotatesThroughReplicaIdsOneToN) {
  EXPECT_EQ(MessageValidator::PrimaryOf(0, 4), 1);
  EXPECT_EQ(MessageValidator::PrimaryOf(1, 4), 2);
  EXPECT_EQ(MessageValidator::PrimaryOf(3, 4), 4);
  EXPECT_EQ(MessageValidator::PrimaryOf(4, 4), 1);
  EXPECT_EQ(MessageValidator::PrimaryOf(9, 7), 3);
  EXPECT_EQ(MessageValidator::PrimaryOf(5, 0), 0);
  EXPECT_EQ(MessageValidator(4).PrimaryOf(6), 3);
}

TEST_F(MessageValidatorTest, Validator_AcceptsWellFormedNormalCaseMessages) {
  EXPECT_TRUE(Check(Ordering(Request::TYPE_PRE_PREPARE, 1, 0, 1)).ok());
  EXPECT_TRUE(Check(Ordering(Request::TYPE_PREPARE, 2, 0, 1)).ok());
  EXPECT_TRUE(Check(Ordering(Request::TYPE_COMMIT, 3, 0, 400)).ok());
  EXPECT_TRUE(Check(Ordering(Request::TYPE_COMMIT, 1, 0, 7)).ok());
}

TEST_F(MessageValidatorTest, Validator_RejectsNonPbftMessageType) {
  Request request = Ordering(Request::TYPE_PREPARE, 2, 0, 1);
  request.set_type(Request::TYPE_CLIENT_REQUEST);
  ExpectRejected(request, absl::StatusCode::kInvalidArgument,
                 "CLIENT_REQUEST is not a PBFT replica message");
  request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
  ExpectRejected(request, absl::StatusCode::kInvalidArgument, "not a PBFT replica message");
}

TEST_F(MessageValidatorTest, Validator_RejectsUnknownSenderId) {
  for (int64_t sender : {0, -1, 5, 100}) {
    ExpectRejected(Ordering(Request::TYPE_PREPARE, sender, 0, 1),
                   absl::StatusCode::kInvalidArgument, "is not a replica id in 1..4");
  }
  Request checkpoint;
  checkpoint.set_type(Request::TYPE_CHECKPOINT);
  checkpoint.set_sender_id(5);
  checkpoint.set_seq(100);
  checkpoint.set_hash("state");
  ExpectRejected(checkpoint, absl::StatusCode::kInvalidArgument, "sender_id: 5");
}

TEST_F(MessageValidatorTest, Validator_RejectsMessageFromOtherView) {
  view_ = 2;
  for (auto type : {Request::TYPE_PRE_PREPARE, Request::TYPE_PREPARE, Request::TYPE_COMMIT}) {
    ExpectRejected(Ordering(type, 3, 1, 1), absl::StatusCode::kFailedPrecondition,
                   "view: 1 is not the current view 2");
    ExpectRejected(Ordering(type, 3, 3, 1), absl::StatusCode::kFailedPrecondition,
                   "view: 3 is not the current view 2");
  }
  // Replica 3 is the primary of view 2.
  EXPECT_TRUE(Check(Ordering(Request::TYPE_PRE_PREPARE, 3, 2, 1)).ok());
}

TEST_F(MessageValidatorTest, Validator_RejectsPrePrepareFromBackup) {
  for (int64_t backup : {2, 3, 4}) {
    ExpectRejected(Ordering(Request::TYPE_PRE_PREPARE, backup, 0, 1),
                   absl::StatusCode::kPermissionDenied, "is not the primary 1 of view 0");
  }
  view_ = 5;  // primary 2
  ExpectRejected(Ordering(Request::TYPE_PRE_PREPARE, 1, 5, 1), absl::StatusCode::kPermissionDenied,
                 "is not the primary 2 of view 5");
  EXPECT_TRUE(Check(Ordering(Request::TYPE_PRE_PREPARE, 2, 5, 1)).ok());
}

TEST_F(MessageValidatorTest, Validator_AcceptsPrepareAndCommitFromAnyReplica) {
  for (int64_t sender = 1; sender <= kReplicas; ++sender) {
    EXPECT_TRUE(Check(Ordering(Request::TYPE_PREPARE, sender, 0, 1)).ok());
    EXPECT_TRUE(Check(Ordering(Request::TYPE_COMMIT, sender, 0, 1)).ok());
  }
}

TEST_F(MessageValidatorTest, Validator_RejectsSeqOutsideWatermarks) {
  watermarks_.Advance(100);  // window (100, 500]
  for (auto type : {Request::TYPE_PRE_PREPARE, Request::TYPE_PREPARE, Request::TYPE_COMMIT}) {
    ExpectRejected(Ordering(type, 1, 0, 100), absl::StatusCode::kOutOfRange,
                   "seq: 100 is outside the watermarks (100, 500]");
    ExpectRejected(Ordering(type, 1, 0, 0), absl::StatusCode::kOutOfRange, "seq: 0");
    ExpectRejected(Ordering(type, 1, 0, 501), absl::StatusCode::kOutOfRange, "seq: 501");
    EXPECT_TRUE(Check(Ordering(type, 1, 0, 101)).ok());
    EXPECT_TRUE(Check(Ordering(type, 1, 0, 500)).ok());
  }
}

TEST_F(MessageValidatorTest, Validator_RejectsMissingOrMalformedDigest) {
  for (auto type : {Request::TYPE_PRE_PREPARE, Request::TYPE_PREPARE, Request::TYPE_COMMIT}) {
    Request request = Ordering(type, 1, 0, 1);
    request.clear_hash();
    ExpectRejected(request, absl::StatusCode::kInvalidArgument, "hash: digest is missing");
    request.set_hash("short");
    ExpectRejected(request, absl::StatusCode::kInvalidArgument, "digest is 5 bytes, not 32");
  }
}

TEST_F(MessageValidatorTest, Validator_RejectsPrePrepareWhoseDigestDoesNotMatchBatch) {
  Request request = Ordering(Request::TYPE_PRE_PREPARE, 1, 0, 1);
  request.set_data(Batch("set k forged"));
  ExpectRejected(request, absl::StatusCode::kInvalidArgument,
                 "digest does not match the batch in data");
}

TEST_F(MessageValidatorTest, Validator_DoesNotRequireBatchInPrepareOrCommit) {
  Request prepare = Ordering(Request::TYPE_PREPARE, 2, 0, 1);
  ASSERT_TRUE(prepare.data().empty());
  EXPECT_TRUE(Check(prepare).ok());
}

TEST_F(MessageValidatorTest, Validator_ReportsViewBeforeWatermarkBeforeDigest) {
  view_ = 1;
  Request request = Ordering(Request::TYPE_PREPARE, 2, 0, 9999);
  request.clear_hash();
  ExpectRejected(request, absl::StatusCode::kFailedPrecondition, "view");
  request.set_view(1);
  ExpectRejected(request, absl::StatusCode::kOutOfRange, "seq");
  request.set_seq(1);
  ExpectRejected(request, absl::StatusCode::kInvalidArgument, "hash");
}

TEST_F(MessageValidatorTest, Validator_ChecksCheckpointSeqAndStateDigest) {
  watermarks_.Advance(100);
  Request checkpoint;
  checkpoint.set_type(Request::TYPE_CHECKPOINT);
  checkpoint.set_sender_id(4);
  checkpoint.set_seq(200);
  checkpoint.set_hash("state digest");
  // Checkpoints carry no view; any view is accepted.
  checkpoint.set_view(77);
  EXPECT_TRUE(Check(checkpoint).ok());

  checkpoint.set_seq(100);
  ExpectRejected(checkpoint, absl::StatusCode::kOutOfRange,
                 "seq: 100 is at or below the low watermark 100");
  checkpoint.set_seq(200);
  checkpoint.clear_hash();
  ExpectRejected(checkpoint, absl::StatusCode::kInvalidArgument, "state digest is missing");
}

TEST_F(MessageValidatorTest, Validator_RejectsViewChangeForOlderView) {
  view_ = 3;
  Request view_change;
  view_change.set_type(Request::TYPE_VIEWCHANGE);
  view_change.set_sender_id(2);
  view_change.set_view(2);
  ExpectRejected(view_change, absl::StatusCode::kFailedPrecondition,
                 "view: 2 is below the current view 3");
  view_change.set_view(3);
  EXPECT_TRUE(Check(view_change).ok());
  view_change.set_view(4);
  EXPECT_TRUE(Check(view_change).ok());
}

TEST_F(MessageValidatorTest, Validator_RejectsNewViewFromReplicaThatIsNotItsPrimary) {
  view_ = 1;
  Request new_view;
  new_view.set_type(Request::TYPE_NEWVIEW);
  new_view.set_view(2);  // primary 3
  new_view.set_sender_id(2);
  ExpectRejected(new_view, absl::StatusCode::kPermissionDenied,
                 "replica 2 is not the primary 3 of view 2");
  new_view.set_sender_id(3);
  EXPECT_TRUE(Check(new_view).ok());
  new_view.set_view(0);
  new_view.set_sender_id(1);
  ExpectRejected(new_view, absl::StatusCode::kFailedPrecondition, "below the current view 1");
}

TEST(MessageValidatorEmptyTest, Validator_WithNoReplicasRejectsEverySender) {
  MessageValidator validator(0);
  Watermarks watermarks(10);
  Request request = Ordering(Request::TYPE_PREPARE, 1, 0, 1);
  EXPECT_EQ(validator.Validate(request, 0, watermarks).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
