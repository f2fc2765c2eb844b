#include "platform/networkstrate/context.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace {

struct Recorder {
  std::atomic<int> calls{0};
  Response last;
  Context::ReplyFn Fn() {
    return [this](const Response& response) {
      last = response;
      calls.fetch_add(1);
    };
  }
};

Response WithData(const std::string& data) {
  Response response;
  response.set_data(data);
  return response;
}

TEST(ContextTest, KeepsSignatureAndSignedBytes) {
  SignatureInfo signature;
  signature.set_node_id(3);
  signature.set_signature("sig");
  Context context(signature, "bytes");
  EXPECT_EQ(context.signature().node_id(), 3);
  EXPECT_EQ(context.signature().signature(), "sig");
  EXPECT_EQ(context.signed_data(), "bytes");
  EXPECT_FALSE(context.CanReply());
  context.Reply(WithData("ignored"));  // no channel: nothing happens
}

TEST(ContextTest, FirstReplyWins) {
  Recorder recorder;
  {
    Context context(SignatureInfo(), "", recorder.Fn());
    EXPECT_TRUE(context.CanReply());
    context.Reply(WithData("first"));
    EXPECT_FALSE(context.CanReply());
    context.Reply(WithData("second"));
  }
  EXPECT_EQ(recorder.calls.load(), 1);
  EXPECT_EQ(recorder.last.data(), "first");
}

TEST(ContextTest, DroppedContextAnswersUnavailable) {
  Recorder recorder;
  { Context context(SignatureInfo(), "", recorder.Fn()); }
  ASSERT_EQ(recorder.calls.load(), 1);
  EXPECT_EQ(recorder.last.status(), Response::UNAVAILABLE);
  EXPECT_EQ(recorder.last.error(), "request dropped by replica");
}

TEST(ContextTest, ConcurrentRepliesDeliverExactlyOne) {
  for (int round = 0; round < 50; ++round) {
    Recorder recorder;
    auto context = std::make_unique<Context>(SignatureInfo(), "", recorder.Fn());
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&context, i] { context->Reply(WithData(std::to_string(i))); });
    }
    for (std::thread& thread : threads) thread.join();
    context.reset();
    EXPECT_EQ(recorder.calls.load(), 1);
    EXPECT_NE(recorder.last.status(), Response::UNAVAILABLE);
  }
}

}  // namespace
}  // namespace resdb
