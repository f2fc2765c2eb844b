#include "platform/common/fuzz/seeds.h"

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/proto/resdb.pb.h"
#include "platform/storage/fuzz/stored_records.h"
#include "platform/storage/record_codec.h"

namespace resdb {
namespace fuzz {
namespace {

// Key selectors of applied_state_fuzzer.
enum : uint8_t { kAppliedIndex = 0, kClient = 0x81, kStateDigest = 2 };

std::string ClientRecord(uint64_t clock, uint64_t first_request) {
  std::string record;
  PutFixed64(&record, clock);
  BatchUserRequest requests;
  for (uint64_t id = first_request; id < first_request + 2; ++id) {
    UserRequest* request = requests.add_requests();
    request->set_request_id(id);
    request->set_data("response " + std::to_string(id));
  }
  return record + requests.SerializeAsString();
}

std::string StoredTable() {
  std::string applied;
  PutFixed64(&applied, 7);
  PutFixed64(&applied, 3);
  FuzzInputWriter out;
  AddStoredRecords({{kAppliedIndex, 0, applied, false},
                    {kClient, 1, ClientRecord(2, 1), false},
                    {kClient, 2, ClientRecord(3, 5), false},
                    {kStateDigest, 0, std::string(32, 'd'), false}},
                   &out);
  out.AddByte(0);
  out.AddByte(1).AddByte(3).AddByte(9).AddBytes("ok");
  out.AddByte(1).AddByte(1).AddByte(3).AddBytes("ok");
  out.AddByte(2);
  out.AddByte(3).AddByte(1).AddByte(2);
  return out.data();
}

std::string FreshTable() {
  FuzzInputWriter out;
  out.AddByte(0);
  for (int client = 0; client < 4; ++client) {
    out.AddByte(0);
    out.AddByte(1).AddByte(client).AddByte(1).AddBytes("a");
    out.AddByte(1).AddByte(client).AddByte(2).AddBytes("b");
    out.AddByte(1).AddByte(client).AddByte(3).AddBytes("c");
  }
  out.AddByte(2);
  return out.data();
}

}  // namespace

std::map<std::string, std::vector<std::string>> Seeds() {
  return {{"applied_state_fuzzer", {StoredTable(), FreshTable()}}};
}

}  // namespace fuzz
}  // namespace resdb
