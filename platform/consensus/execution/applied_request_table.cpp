#include "platform/consensus/execution/applied_request_table.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace resdb {
namespace {

constexpr char kAppliedKey[] = "applied_index";
constexpr char kClientPrefix[] = "client_";

void PutFixed64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t GetFixed64(absl::string_view in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(in[i]);
  return value;
}

}  // namespace

AppliedRequestTable::AppliedRequestTable(size_t per_client, size_t max_clients)
    : per_client_(per_client == 0 ? 1 : per_client),
      max_clients_(max_clients == 0 ? 1 : max_clients) {}

std::string AppliedRequestTable::ClientKey(uint64_t client_id) {
  std::string key = kClientPrefix;
  PutFixed64(&key, client_id);
  return key;
}

std::vector<std::string> AppliedRequestTable::KeyPrefixes() { return {kAppliedKey, kClientPrefix}; }

absl::Status AppliedRequestTable::Load(Storage* storage) {
  std::map<uint64_t, ClientRecord> clients;
  uint64_t applied = 0;
  uint64_t clock = 0;
  absl::Status error;
  absl::StatusOr<std::string> meta = storage->Get(kAppliedKey);
  if (meta.ok()) {
    if (meta->size() != 16) {
      return absl::DataLossError(absl::StrCat("raft state key \"", kAppliedKey, "\": record of ",
                                              meta->size(), " bytes, expected 16"));
    }
    applied = GetFixed64(*meta);
    clock = GetFixed64(absl::string_view(*meta).substr(8));
  } else if (!absl::IsNotFound(meta.status())) {
    return meta.status();
  }
  const std::string begin = kClientPrefix;
  std::string end = begin;
  end.back() = static_cast<char>(end.back() + 1);
  absl::Status scanned =
      storage->Scan(begin, end, [&](absl::string_view key, absl::string_view value) {
        BatchUserRequest stored;
        if (key.size() != begin.size() + 8 || value.size() < 8 ||
            !stored.ParseFromArray(value.data() + 8, static_cast<int>(value.size() - 8))) {
          error = absl::DataLossError(absl::StrCat("raft state: applied-request record of ",
                                                   key.size(), "-byte key is damaged"));
          return false;
        }
        ClientRecord record;
        record.clock = GetFixed64(value);
        for (const UserRequest& request : stored.requests()) {
          record.responses[request.request_id()] = request.data();
        }
        clients[GetFixed64(key.substr(begin.size()))] = std::move(record);
        return true;
      });
  if (!scanned.ok()) return scanned;
  if (!error.ok()) return error;

  std::lock_guard<std::mutex> lock(mu_);
  clients_ = std::move(clients);
  by_clock_.clear();
  for (const auto& [id, record] : clients_) by_clock_.emplace(record.clock, id);
  dirty_.clear();
  clock_ = clock;
  applied_index_ = applied;
  return absl::OkStatus();
}

std::optional<std::string> AppliedRequestTable::Lookup(uint64_t client_id,
                                                       uint64_t request_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto client = clients_.find(client_id);
  if (client == clients_.end()) return std::nullopt;
  auto it = client->second.responses.find(request_id);
  if (it == client->second.responses.end()) return std::nullopt;
  return it->second;
}

void AppliedRequestTable::BeginBatch() {
  std::lock_guard<std::mutex> lock(mu_);
  ++clock_;
}

void AppliedRequestTable::Record(uint64_t client_id, uint64_t request_id,
                                 const std::string& response) {
  if (client_id == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = clients_.try_emplace(client_id);
  ClientRecord& record = it->second;
  if (!inserted) by_clock_.erase({record.clock, client_id});
  record.clock = clock_;
  by_clock_.emplace(record.clock, client_id);
  record.responses[request_id] = response;
  while (record.responses.size() > per_client_) record.responses.erase(record.responses.begin());
  dirty_.insert(client_id);
  while (clients_.size() > max_clients_) {
    const uint64_t oldest = by_clock_.begin()->second;
    by_clock_.erase(by_clock_.begin());
    clients_.erase(oldest);
    dirty_.insert(oldest);
  }
}

void AppliedRequestTable::Flush(uint64_t applied_index, WriteBatch* batch) {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint64_t client_id : dirty_) {
    auto it = clients_.find(client_id);
    if (it == clients_.end()) {
      batch->Delete(ClientKey(client_id));
      continue;
    }
    BatchUserRequest stored;
    for (const auto& [request_id, response] : it->second.responses) {
      UserRequest* request = stored.add_requests();
      request->set_request_id(request_id);
      request->set_data(response);
    }
    std::string value;
    PutFixed64(&value, it->second.clock);
    stored.AppendToString(&value);
    batch->Put(ClientKey(client_id), value);
  }
  dirty_.clear();
  applied_index_ = applied_index;
  std::string meta;
  PutFixed64(&meta, applied_index);
  PutFixed64(&meta, clock_);
  batch->Put(kAppliedKey, meta);
}

uint64_t AppliedRequestTable::applied_index() const {
  std::lock_guard<std::mutex> lock(mu_);
  return applied_index_;
}

size_t AppliedRequestTable::client_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_.size();
}

DedupTransactionManager::DedupTransactionManager(std::unique_ptr<TransactionManager> inner,
                                                 AppliedRequestTable* table, Stats* stats)
    : inner_(std::move(inner)),
      table_(table),
      duplicates_(stats->GetCounter("executor_duplicate_requests")) {}

std::unique_ptr<std::string> DedupTransactionManager::ExecuteData(const std::string& request) {
  return inner_->ExecuteData(request);
}

std::unique_ptr<BatchUserResponse> DedupTransactionManager::ExecuteBatch(
    const BatchUserRequest& batch) {
  table_->BeginBatch();
  const int n = batch.requests_size();
  // For each request: -1 to execute, -2 answered from the table, or the position of an
  // earlier request of this batch with the same identity.
  std::vector<int> source(n, -1);
  std::vector<std::string> responses(n);
  std::map<std::pair<uint64_t, uint64_t>, int> first_in_batch;
  BatchUserRequest fresh;
  std::vector<int> fresh_positions;
  for (int i = 0; i < n; ++i) {
    const UserRequest& request = batch.requests(i);
    if (request.client_id() != 0) {
      if (auto stored = table_->Lookup(request.client_id(), request.request_id())) {
        responses[i] = std::move(*stored);
        source[i] = -2;
        duplicates_->Increment();
        continue;
      }
      auto [it, inserted] =
          first_in_batch.emplace(std::make_pair(request.client_id(), request.request_id()), i);
      if (!inserted) {
        source[i] = it->second;
        duplicates_->Increment();
        continue;
      }
    }
    *fresh.add_requests() = request;
    fresh_positions.push_back(i);
  }
  if (!fresh_positions.empty()) {
    fresh.set_create_time_us(batch.create_time_us());
    std::unique_ptr<BatchUserResponse> executed = inner_->ExecuteBatch(fresh);
    for (size_t k = 0; k < fresh_positions.size(); ++k) {
      const int i = fresh_positions[k];
      if (executed != nullptr && static_cast<int>(k) < executed->responses_size()) {
        responses[i] = executed->responses(static_cast<int>(k));
      }
      const UserRequest& request = batch.requests(i);
      table_->Record(request.client_id(), request.request_id(), responses[i]);
    }
  }
  auto out = std::make_unique<BatchUserResponse>();
  for (int i = 0; i < n; ++i) {
    if (source[i] >= 0) responses[i] = responses[source[i]];
    out->add_responses(responses[i]);
  }
  return out;
}

std::unique_ptr<std::string> DedupTransactionManager::Query(const std::string& request) {
  return inner_->Query(request);
}

bool DedupTransactionManager::IsReadOnly(const std::string& request) {
  return inner_->IsReadOnly(request);
}

}  // namespace resdb
