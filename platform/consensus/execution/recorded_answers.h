#ifndef PLATFORM_CONSENSUS_EXECUTION_RECORDED_ANSWERS_H_
#define PLATFORM_CONSENSUS_EXECUTION_RECORDED_ANSWERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "platform/networkstrate/context.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {

// Test helper: client call contexts whose answers are kept in `responses`.
struct RecordedAnswers {
  std::vector<Response> responses;
  std::unique_ptr<Context> NewContext() {
    return std::make_unique<Context>(SignatureInfo(), "",
                                     [this](const Response& r) { responses.push_back(r); });
  }
};

// A client request with identity (client, id) and `data`.
inline UserRequest MakeUserRequest(uint64_t client, uint64_t id, const std::string& data = "") {
  UserRequest request;
  request.set_client_id(client);
  request.set_request_id(id);
  request.set_data(data);
  return request;
}

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_RECORDED_ANSWERS_H_
