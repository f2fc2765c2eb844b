#include "platform/consensus/ordering/raft/raft_rpc.h"

#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/raft_message_type.h"

namespace resdb {
namespace raft {
namespace {

TEST(RaftRpcTest, RoundTripKeepsTypeSenderAndPayload) {
  AppendEntriesRequest append;
  append.set_term(7);
  append.set_leader_id(2);
  append.set_prev_log_index(41);
  append.set_leader_commit(40);
  Entry* entry = append.add_entries();
  entry->set_term(7);
  entry->set_index(42);
  entry->set_data("batch");
  RaftMessage message = RaftMessage::Make(2, 3, append);

  Request request = RaftRpc::ToRequest(2, message);
  EXPECT_EQ(request.type(), Request::TYPE_CUSTOM_CONSENSUS);
  EXPECT_EQ(request.user_type(), RAFT_APPEND_ENTRIES);
  EXPECT_EQ(request.sender_id(), 2);

  auto parsed = RaftRpc::FromRequest(3, request);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->from, 2);
  EXPECT_EQ(parsed->to, 3);
  EXPECT_EQ(parsed->user_type, RAFT_APPEND_ENTRIES);
  const auto* got = std::get_if<AppendEntriesRequest>(&parsed->payload);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->SerializeAsString(), append.SerializeAsString());
}

TEST(RaftRpcTest, EveryMessageTypeRoundTrips) {
  RequestVoteRequest vote;
  vote.set_term(3);
  vote.set_pre_vote(true);
  ReadIndexResponse read;
  read.set_context(9);
  read.set_success(true);
  for (const RaftMessage& message :
       {RaftMessage::Make(1, 2, vote), RaftMessage::Make(1, 2, read),
        RaftMessage::Make(1, 2, TimeoutNow()), RaftMessage::Make(1, 2, AppendEntriesResponse())}) {
    auto parsed = RaftRpc::FromRequest(2, RaftRpc::ToRequest(1, message));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->user_type, message.user_type);
    EXPECT_EQ(parsed->SerializePayload(), message.SerializePayload());
  }
}

TEST(RaftRpcTest, GarbageIsRejected) {
  Request request;
  request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
  request.set_sender_id(1);
  request.set_user_type(RAFT_APPEND_ENTRIES);
  request.set_data("\xff\xff\xff\xff");
  EXPECT_FALSE(RaftRpc::FromRequest(2, request).ok());

  request.set_data("");
  request.set_user_type(999);
  EXPECT_FALSE(RaftRpc::FromRequest(2, request).ok());

  request.set_user_type(RAFT_TIMEOUT_NOW);
  request.set_sender_id(0);
  EXPECT_FALSE(RaftRpc::FromRequest(2, request).ok());
  request.set_sender_id(2);  // from itself
  EXPECT_FALSE(RaftRpc::FromRequest(2, request).ok());

  request.set_sender_id(1);
  request.set_type(Request::TYPE_CLIENT_REQUEST);
  EXPECT_FALSE(RaftRpc::FromRequest(2, request).ok());
}

TEST(RaftRpcTest, SendWithoutCommunicatorFails) {
  RaftRpc rpc(1, nullptr);
  EXPECT_FALSE(rpc.Send(RaftMessage::Make(1, 2, TimeoutNow())));
}

}  // namespace
}  // namespace raft
}  // namespace resdb
