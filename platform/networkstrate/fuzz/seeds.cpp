#include "platform/common/fuzz/seeds.h"

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace fuzz {
namespace {

std::string Envelope(Request::Type type, int64_t sender, const std::string& data) {
  Request request;
  request.set_type(type);
  request.set_sender_id(sender);
  request.set_data(data);
  request.set_client_id(7);
  request.set_request_id(1);
  ResDBMessage envelope;
  envelope.set_data(request.SerializeAsString());
  envelope.mutable_signature()->set_node_id(sender);
  return envelope.SerializeAsString();
}

std::string RequestBytes(Request::Type type, int64_t sender) {
  Request request;
  request.set_type(type);
  request.set_sender_id(sender);
  request.set_user_type(1);
  request.set_data("payload");
  return request.SerializeAsString();
}

std::string Traffic() {
  FuzzInputWriter out;
  out.AddByte(0).AddBytes(Envelope(Request::TYPE_CLIENT_REQUEST, 0, "set a 1"));
  out.AddByte(0).AddBytes(Envelope(Request::TYPE_STATUS, 0, ""));
  out.AddByte(1).AddBytes(Envelope(Request::TYPE_HEART_BEAT, 2, ""));
  out.AddByte(1).AddBytes(Envelope(Request::TYPE_CUSTOM_CONSENSUS, 3, "raft"));
  out.AddByte(3).AddByte(1);  // verifier on, manager drops client calls
  out.AddByte(2).AddBytes(RequestBytes(Request::TYPE_CUSTOM_CONSENSUS, 2)).AddByte(2);
  out.AddByte(2).AddBytes(RequestBytes(Request::TYPE_PREPARE, 3)).AddByte(3);
  out.AddByte(0).AddBytes(Envelope(Request::TYPE_CLIENT_REQUEST, 0, "get a"));
  out.AddByte(4).AddByte(0);  // not accepting
  out.AddByte(0).AddBytes(Envelope(Request::TYPE_CLIENT_REQUEST, 0, "get a"));
  out.AddByte(1).AddBytes(Envelope(Request::TYPE_PRE_PREPARE, 2, "batch"));
  return out.data();
}

std::string Malformed() {
  FuzzInputWriter out;
  out.AddByte(0).AddBytes("\xff\xff\xff");
  ResDBMessage unknown_type;
  unknown_type.set_data(std::string("\x08\x63", 2));  // type 99
  out.AddByte(1).AddBytes(unknown_type.SerializeAsString());
  out.AddByte(0).AddBytes(unknown_type.SerializeAsString());
  return out.data();
}

}  // namespace

std::map<std::string, std::vector<std::string>> Seeds() {
  return {{"message_dispatcher_fuzzer", {Traffic(), Malformed()}}};
}

}  // namespace fuzz
}  // namespace resdb
