#include <memory>
#include <set>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_message_type.h"

namespace resdb {
namespace raft {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::FileDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::MessageFactory;
using ::google::protobuf::Reflection;
using ::google::protobuf::util::MessageDifferencer;

// Sets every field of `message` (recursively, two elements per repeated field) to a value
// other than its default, derived from `seed` and the field number (one entry per map).
void FillAllFields(Message* message, int seed) {
  const Descriptor* descriptor = message->GetDescriptor();
  const Reflection* reflection = message->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    // Two map entries filled alike would share a key and collapse into one on parsing.
    const int count = field->is_repeated() && !field->is_map() ? 2 : 1;
    for (int n = 0; n < count; ++n) {
      const int value = seed * 100 + field->number() * 10 + n + 1;
      const bool repeated = field->is_repeated();
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          repeated ? reflection->AddInt32(message, field, -value)
                   : reflection->SetInt32(message, field, -value);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          repeated ? reflection->AddInt64(message, field, -(int64_t{value} << 33))
                   : reflection->SetInt64(message, field, -(int64_t{value} << 33));
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          repeated ? reflection->AddUInt32(message, field, value)
                   : reflection->SetUInt32(message, field, value);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          repeated ? reflection->AddUInt64(message, field, static_cast<uint64_t>(value) << 40)
                   : reflection->SetUInt64(message, field, static_cast<uint64_t>(value) << 40);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          repeated ? reflection->AddDouble(message, field, value + 0.5)
                   : reflection->SetDouble(message, field, value + 0.5);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          repeated ? reflection->AddFloat(message, field, value + 0.5f)
                   : reflection->SetFloat(message, field, value + 0.5f);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          repeated ? reflection->AddBool(message, field, true)
                   : reflection->SetBool(message, field, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* type = field->enum_type();
          const auto* last = type->value(type->value_count() - 1);
          repeated ? reflection->AddEnum(message, field, last)
                   : reflection->SetEnum(message, field, last);
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
          std::string bytes = "v" + std::to_string(value) + std::string("\0\xff", 2);
          repeated ? reflection->AddString(message, field, bytes)
                   : reflection->SetString(message, field, bytes);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
          FillAllFields(repeated ? reflection->AddMessage(message, field)
                                 : reflection->MutableMessage(message, field),
                        seed + 1);
          break;
      }
    }
  }
}

TEST(RaftMessageTest, EveryMessageRoundTrips) {
  const FileDescriptor* file = Entry::descriptor()->file();
  std::set<std::string> names;
  for (int i = 0; i < file->message_type_count(); ++i) {
    const Descriptor* descriptor = file->message_type(i);
    SCOPED_TRACE(descriptor->full_name());
    names.insert(descriptor->name());
    const Message* prototype = MessageFactory::generated_factory()->GetPrototype(descriptor);
    ASSERT_NE(prototype, nullptr);

    std::unique_ptr<Message> original(prototype->New());
    FillAllFields(original.get(), 1);
    std::vector<const FieldDescriptor*> set_fields;
    original->GetReflection()->ListFields(*original, &set_fields);
    EXPECT_EQ(static_cast<int>(set_fields.size()), descriptor->field_count());

    std::string wire;
    ASSERT_TRUE(original->SerializeToString(&wire));
    std::unique_ptr<Message> parsed(prototype->New());
    ASSERT_TRUE(parsed->ParseFromString(wire));
    std::string differences;
    MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&differences);
    EXPECT_TRUE(differencer.Compare(*original, *parsed)) << differences;

    std::unique_ptr<Message> empty(prototype->New());
    EXPECT_FALSE(MessageDifferencer::Equals(*empty, *parsed));
  }
  for (const char* expected :
       {"Entry", "Membership", "AppendEntriesRequest", "AppendEntriesResponse",
        "RequestVoteRequest", "RequestVoteResponse", "SnapshotMetadata", "SnapshotChunk",
        "InstallSnapshotRequest", "InstallSnapshotResponse", "TimeoutNow", "ReadIndexRequest",
        "ReadIndexResponse", "HardState"}) {
    EXPECT_EQ(names.count(expected), 1u) << expected;
  }
}

TEST(RaftMessageTest, AppendEntriesWithEntriesRoundTrips) {
  AppendEntriesRequest request;
  request.set_term(7);
  request.set_leader_id(2);
  request.set_prev_log_index(41);
  request.set_prev_log_term(6);
  request.set_leader_commit(40);
  request.set_sequence(99);
  request.set_read_context(5);
  for (uint64_t index = 42; index <= 44; ++index) {
    Entry* entry = request.add_entries();
    entry->set_index(index);
    entry->set_term(7);
    entry->set_type(index == 42 ? Entry::NOOP : Entry::NORMAL);
    entry->set_data(std::string("cmd\0", 4) + std::to_string(index));
  }
  AppendEntriesRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(request.SerializeAsString()));
  EXPECT_TRUE(MessageDifferencer::Equals(request, parsed));
  ASSERT_EQ(parsed.entries_size(), 3);
  EXPECT_EQ(parsed.entries(0).type(), Entry::NOOP);
  EXPECT_EQ(parsed.entries(2).data(), std::string("cmd\0", 4) + "44");
}

TEST(RaftMessageTypeTest, TypesAreOneToNineAndDistinct) {
  const std::vector<int> types = {RAFT_APPEND_ENTRIES,     RAFT_APPEND_ENTRIES_RESPONSE,
                                  RAFT_REQUEST_VOTE,       RAFT_REQUEST_VOTE_RESPONSE,
                                  RAFT_INSTALL_SNAPSHOT,   RAFT_INSTALL_SNAPSHOT_RESPONSE,
                                  RAFT_TIMEOUT_NOW,        RAFT_READ_INDEX,
                                  RAFT_READ_INDEX_RESPONSE};
  const std::set<int> distinct(types.begin(), types.end());
  EXPECT_EQ(distinct.size(), types.size());
  EXPECT_EQ(distinct, (std::set<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

}  // namespace
}  // namespace raft
}  // namespace resdb
