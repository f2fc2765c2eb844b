#include "platform/consensus/execution/transaction_manager.h"

namespace resdb {

std::unique_ptr<BatchUserResponse> TransactionManager::ExecuteBatch(const BatchUserRequest& batch) {
  auto response = std::make_unique<BatchUserResponse>();
  for (const UserRequest& request : batch.requests()) {
    std::unique_ptr<std::string> result = ExecuteData(request.data());
    response->add_responses(result != nullptr ? std::move(*result) : std::string());
  }
  return response;
}

std::unique_ptr<std::string> TransactionManager::Query(const std::string& /*request*/) {
  return nullptr;
}

}  // namespace resdb
