#include "platform/consensus/ordering/pbft/simulation/pbft_sim_clients.h"

#include <cstdlib>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "platform/common/crypto/signature.h"

namespace resdb {
namespace pbft {
namespace simulation {

namespace {

const std::vector<std::unique_ptr<ClientIdentity>>& Identities() {
  static const auto* identities = [] {
    auto* out = new std::vector<std::unique_ptr<ClientIdentity>>();
    for (size_t i = 0; i < PbftSimClients::kClients; ++i) {
      auto identity = ClientIdentity::FromSeed(Sha256(absl::StrCat("simulated client ", i)));
      // Only a broken crypto library fails here, and then no run means anything.
      if (!identity.ok()) std::abort();
      out->push_back(*std::move(identity));
    }
    return out;
  }();
  return *identities;
}

// `client`'s signature of its request `id` with payload `data`. Ed25519 signatures are
// deterministic and runs repeat their requests: what a sweep of seeds signs again comes
// from memory.
std::string SignatureOf(const ClientIdentity& client, uint64_t id, const std::string& data) {
  static std::mutex mu;
  static auto* signatures = new std::map<std::string, std::string>();
  const std::string signed_bytes = ClientSignedBytes(client.client_id(), id, data);
  std::lock_guard<std::mutex> lock(mu);
  auto it = signatures->find(signed_bytes);
  if (it == signatures->end()) {
    it = signatures->emplace(signed_bytes, client.Sign(id, data)).first;
  }
  return it->second;
}

}  // namespace

PbftSimClients::PbftSimClients(int64_t retry_ticks) : retry_ticks_(retry_ticks) {}

const ClientIdentity& PbftSimClients::client(size_t client) const {
  return *Identities().at(client);
}

size_t PbftSimClients::Create(int64_t tick, int requests) {
  Proposal proposal;
  proposal.created_tick = tick;
  BatchUserRequest batch;
  for (int i = 0; i < requests; ++i) {
    const uint64_t id = next_request_id_++;
    const ClientIdentity& signer = client(id % kClients);
    UserRequest* request = batch.add_requests();
    request->set_client_id(signer.client_id());
    request->set_request_id(id);
    request->set_data(absl::StrCat("set k", id % 17, " v", id));
    request->set_client_public_key(signer.public_key());
    request->set_client_signature(SignatureOf(signer, id, request->data()));
    issued_[id] = {signer.client_id(), request->data()};
    proposal.request_ids.push_back(id);
  }
  batch.set_create_time_us(static_cast<uint64_t>(tick));
  batch.SerializeToString(&proposal.data);
  batches_.insert(proposal.data);
  proposals_.push_back(std::move(proposal));
  return proposals_.size() - 1;
}

bool PbftSimClients::IsIssued(const UserRequest& request) const {
  auto it = issued_.find(request.request_id());
  return it != issued_.end() && it->second.first == request.client_id() &&
         it->second.second == request.data();
}

uint64_t PbftSimClients::NextRequestIdOf(size_t client) const {
  uint64_t id = next_request_id_;
  while (id % kClients != client) ++id;
  return id;
}

std::vector<size_t> PbftSimClients::Due(int64_t tick) const {
  std::vector<size_t> due;
  for (size_t i = first_pending_; i < proposals_.size(); ++i) {
    const Proposal& p = proposals_[i];
    if (!p.done && (p.handed_tick < 0 || tick - p.handed_tick >= retry_ticks_)) due.push_back(i);
  }
  return due;
}

void PbftSimClients::MarkDone(size_t index) {
  proposals_[index].done = true;
  while (first_pending_ < proposals_.size() && proposals_[first_pending_].done) ++first_pending_;
}

void PbftSimClients::MarkHanded(size_t index, int64_t tick) {
  proposals_[index].handed_tick = tick;
  ++proposals_[index].handed;
}

size_t PbftSimClients::pending() const {
  size_t n = 0;
  for (size_t i = first_pending_; i < proposals_.size(); ++i) n += proposals_[i].done ? 0 : 1;
  return n;
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
