#include "platform/consensus/ordering/pbft/simulation/pbft_cluster_sim.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "platform/common/crypto/client_identity.h"
#include "platform/consensus/execution/client_request_verifier.h"
#include "platform/consensus/ordering/pbft/message_validator.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"

namespace resdb {
namespace pbft {
namespace simulation {
namespace {

// Consecutive Actions a replica may produce from one input; more means it never settles.
constexpr int kMaxActionRounds = 1000;

bool IsEmpty(const Actions& a) {
  return a.broadcast.empty() && a.send.empty() && a.execute.empty() && a.fetches.empty() &&
         !a.view_record.has_value() && a.slots.empty() && !a.stable.has_value();
}

std::string TypeName(const Request& message) {
  return Request::Type_Name(message.type()).substr(5);  // without "TYPE_"
}

// The VIEWCHANGE senders of a NEWVIEW and what it re-proposes per seq ("-" for the no-op).
std::string DescribeNewView(const Request& message) {
  NewView nv;
  if (!nv.ParseFromString(message.data())) return " (unparsable)";
  std::string out = " {from";
  for (const SignedMessage& vc : nv.view_changes()) absl::StrAppend(&out, " ", vc.signer());
  absl::StrAppend(&out, "; re-proposes");
  for (const std::string& bytes : nv.pre_prepares()) {
    Request pre_prepare;
    pre_prepare.ParseFromString(bytes);
    absl::StrAppend(&out, " ", pre_prepare.seq(),
                    pre_prepare.hash() == NullBatchDigest() ? "-" : "");
  }
  return absl::StrCat(out, "}");
}

// The replicas' client signature check, one for every replica of every run in the process.
// It remembers only requests whose signature verified, so each replica gets the answer its
// own would give; and as every run's clients sign the same requests with the same keys
// (PbftSimClients), a sweep of many seeds verifies each request once.
ClientRequestVerifier& SharedClientVerifier() {
  static ClientRequestVerifier* verifier = new ClientRequestVerifier();
  return *verifier;
}

}  // namespace

const char* StrikePointName(StrikePoint point) {
  switch (point) {
    case StrikePoint::kNow:
      return "between-steps";
    case StrikePoint::kBeforePersist:
      return "before-persist";
    case StrikePoint::kAfterPersist:
      return "after-persist-before-send";
    case StrikePoint::kMidSend:
      return "mid-send";
  }
  return "unknown";
}

struct PbftClusterSim::SimNode {
  int64_t id = 0;
  // Survives crashes.
  PbftSimDisk disk;
  // Lost at a crash; null while down.
  std::unique_ptr<PbftReplica> replica;
  PbftSimExecutor executor;
  bool byzantine = false;
  bool forger = false;
  bool request_forger = false;
  bool silent = false;
  bool down_forever = false;
  std::optional<Armed> armed;
  // View and release point at the end of the previous step: neither may go back while
  // the replica lives.
  uint64_t seen_view = 0;
  uint64_t seen_released = 0;
  // Equivocation or forged requests per (view, seq): the backups that get the other batch,
  // and that batch.
  std::map<std::pair<uint64_t, uint64_t>, std::pair<std::set<int64_t>, std::string>> forged;
  // A forger's (view, seq)s whose re-proposal its forged NEWVIEW dropped, and what it
  // proposes there instead.
  std::map<std::pair<uint64_t, uint64_t>, std::string> replaced;
};

PbftClusterSim::PbftClusterSim(ClusterOptions options)
    : options_(std::move(options)),
      keys_(options_.seed),
      replica_options_(options_.replica_options),
      network_(options_.seed * 0x9E3779B97F4A7C15ULL + 1),
      rng_(options_.seed * 0xC2B2AE3D27D4EB4FULL + 2),
      clients_(options_.retry_ticks),
      invariants_(&clients_) {
  replica_options_.verify_signature = keys_.Checker();
  auto forger_key = Signer::FromSeed(Sha256(absl::StrCat("request forger ", options_.seed)));
  // Only a broken crypto library fails here, and then no run means anything.
  if (!forger_key.ok()) std::abort();
  forger_key_ = *std::move(forger_key);
  for (int i = 1; i <= options_.num_nodes; ++i) ids_.push_back(i);
  for (int64_t id : ids_) {
    auto node = std::make_unique<SimNode>();
    node->id = id;
    node->replica = std::make_unique<PbftReplica>(id, options_.num_nodes, OptionsFor(id));
    invariants_.OnStart(id, 0);
    nodes_.push_back(std::move(node));
  }
}

PbftClusterSim::~PbftClusterSim() = default;

PbftClusterSim::SimNode& PbftClusterSim::Get(int64_t id) {
  return *nodes_.at(static_cast<size_t>(id - 1));
}
const PbftClusterSim::SimNode& PbftClusterSim::Get(int64_t id) const {
  return *nodes_.at(static_cast<size_t>(id - 1));
}

bool PbftClusterSim::IsUp(int64_t id) const { return Get(id).replica != nullptr; }
bool PbftClusterSim::IsArmed(int64_t id) const { return Get(id).armed.has_value(); }
bool PbftClusterSim::IsFaulty(int64_t id) const {
  const SimNode& n = Get(id);
  return n.byzantine || n.forger || n.request_forger || n.silent || n.down_forever;
}
const PbftReplica* PbftClusterSim::replica(int64_t id) const { return Get(id).replica.get(); }
const PbftSimExecutor& PbftClusterSim::executor(int64_t id) const { return Get(id).executor; }
const PbftSimDisk& PbftClusterSim::disk(int64_t id) const { return Get(id).disk; }

int64_t PbftClusterSim::Primary() const {
  int64_t primary = 0;
  uint64_t view = 0;
  for (int64_t id : ids_) {
    const PbftReplica* r = replica(id);
    if (r != nullptr && r->view_active() && r->is_primary() && (primary == 0 || r->view() > view)) {
      primary = id;
      view = r->view();
    }
  }
  return primary;
}

uint64_t PbftClusterSim::MaxView() const {
  uint64_t view = 0;
  for (int64_t id : ids_) {
    if (const PbftReplica* r = replica(id)) view = std::max(view, r->view());
  }
  return view;
}

void PbftClusterSim::Fail(const std::string& description) { invariants_.Fail(description); }

std::string PbftClusterSim::violation() const {
  if (invariants_.ok()) return "";
  const std::string where = failed_step_.empty() ? absl::StrCat("after step ", steps_, " (tick ",
                                                                ticks_, ", time ", now_, ")")
                                                 : failed_step_;
  return absl::StrCat(where, ": ", invariants_.violation());
}

void PbftClusterSim::Trace(uint64_t value) {
  // FNV-1a over the 8 bytes of `value`.
  for (int i = 0; i < 8; ++i) {
    trace_hash_ ^= (value >> (8 * i)) & 0xff;
    trace_hash_ *= 1099511628211ULL;
  }
}

int64_t PbftClusterSim::Draw(int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, std::max(lo, hi))(rng_);
}

void PbftClusterSim::EndStep(const std::function<std::string()>& describe) {
  ++steps_;
  for (int64_t id : ids_) {
    SimNode& n = Get(id);
    if (n.replica == nullptr) continue;
    const PbftReplica& r = *n.replica;
    if (r.view() < n.seen_view || r.last_executable_seq() < n.seen_released) {
      Fail(absl::StrCat("node ", id, " went back from view ", n.seen_view, ", released ",
                        n.seen_released, " to view ", r.view(), ", released ",
                        r.last_executable_seq()));
    }
    if (r.last_executable_seq() != n.disk.ledger_tip()) {
      Fail(absl::StrCat("node ", id, " reports seqs up to ", r.last_executable_seq(),
                        " released but its ledger ends at ", n.disk.ledger_tip()));
    }
    n.seen_view = r.view();
    n.seen_released = r.last_executable_seq();
  }
  if (options_.log) {
    std::string line = absl::StrCat("step ", steps_, " t=", now_, " ", describe(), " |");
    for (int64_t id : ids_) {
      const SimNode& n = Get(id);
      if (n.replica == nullptr) {
        absl::StrAppend(&line, " ", id, ":down");
        continue;
      }
      const PbftReplica& r = *n.replica;
      absl::StrAppend(&line, " ", id, ":v", r.view(), r.view_active() ? "" : "*",
                      r.is_primary() ? "P" : "", "/x", n.executor.last_seq(), "/s",
                      r.stable_checkpoint(), n.silent ? "/silent" : "", n.byzantine ? "/byz" : "");
    }
    Log(line);
  }
  if (!invariants_.ok() && failed_step_.empty()) {
    failed_step_ =
        absl::StrCat("step ", steps_, " (tick ", ticks_, ", time ", now_, ", ", describe(), ")");
  }
}

// ---- Time, messages, clients. ----

void PbftClusterSim::RunTick() {
  const int64_t tick_end = (ticks_ + 1) * kUnitsPerTick;
  while (auto due = network_.PopDue(tick_end - 1)) {
    now_ = std::max(now_, due->first);
    Deliver(due->first, due->second);
  }
  now_ = tick_end;
  ++ticks_;
  Trace(static_cast<uint64_t>(ticks_));
  for (int64_t id : ids_) {
    SimNode& n = Get(id);
    if (n.replica == nullptr) continue;
    n.replica->Tick(RequestsWaiting(n));
    ProcessActions(n);
  }
  EndStep([this] { return absl::StrCat("tick ", ticks_); });
}

bool PbftClusterSim::RequestsWaiting(const SimNode& node) const {
  // A client that got no answer within retry_ticks sends its request to every replica
  // (PBFT section 4.1); a replica holds it until it has executed it.
  const std::vector<PbftSimClients::Proposal>& proposals = clients_.proposals();
  for (size_t i = clients_.first_pending(); i < proposals.size(); ++i) {
    const PbftSimClients::Proposal& p = proposals[i];
    // Proposals are created in tick order: the rest are younger still.
    if (ticks_ - p.created_tick < options_.retry_ticks) break;
    if (p.done) continue;
    for (uint64_t request : p.request_ids) {
      if (node.executor.request_ids().count(request) == 0) return true;
    }
  }
  return false;
}

void PbftClusterSim::Deliver(int64_t at, const Envelope& envelope) {
  SimNode& n = Get(envelope.to);
  const Request& m = *envelope.message;
  // Described only when a log line or a violation needs it: most steps are never read.
  absl::Status status;
  auto describe = [&] {
    std::string what = absl::StrCat("deliver ", TypeName(m), " v", m.view(), " s", m.seq(), " ",
                                    envelope.from, "->", envelope.to);
    if (m.type() == Request::TYPE_NEWVIEW) absl::StrAppend(&what, DescribeNewView(m));
    if (n.replica == nullptr) absl::StrAppend(&what, " (receiver down)");
    if (!status.ok()) absl::StrAppend(&what, " refused: ", status.ToString());
    return what;
  };
  if (n.replica == nullptr) {
    EndStep(describe);
    return;
  }
  Trace(static_cast<uint64_t>(at));
  Trace(static_cast<uint64_t>(envelope.from) << 32 | static_cast<uint64_t>(envelope.to));
  Trace(static_cast<uint64_t>(m.type()) << 48 ^ m.view() << 32 ^ m.seq());
  // What a production replica checks on the transport's threads, before the protocol.
  if (!IsFaulty(n.id) && !SharedClientVerifier().VerifyProposedBatch(m)) {
    ++unsigned_refused_;
    Trace(0x5167000000000000ULL | static_cast<uint64_t>(n.id));
    status = absl::PermissionDeniedError("a request of the batch is not signed by its client");
    EndStep(describe);
    return;
  }
  status = n.replica->Step(m, *envelope.signed_message);
  if (!status.ok()) ++refused_;
  ProcessActions(n);
  EndStep(describe);
}

void PbftClusterSim::NewProposal(int requests) { clients_.Create(ticks_, std::max(1, requests)); }

void PbftClusterSim::ServeClients() {
  const std::vector<PbftSimClients::Proposal>& proposals = clients_.proposals();
  for (size_t i = clients_.first_pending(); i < proposals.size(); ++i) {
    if (proposals[i].done) continue;
    size_t executed = 0;
    for (int64_t id : ids_) {
      if (!IsCorrectUp(id)) continue;
      const std::set<uint64_t>& seen = Get(id).executor.request_ids();
      bool all = true;
      for (uint64_t request : proposals[i].request_ids) all = all && seen.count(request) > 0;
      executed += all ? 1 : 0;
    }
    if (executed >= f() + 1) clients_.MarkDone(i);
  }
  const int64_t primary = Primary();
  if (primary == 0) return;
  SimNode& node = Get(primary);
  int handed = 0;
  for (size_t i : clients_.Due(ticks_)) {
    if (node.replica == nullptr) break;
    if (!node.replica->Propose(proposals[i].data).ok()) break;  // retried next tick
    clients_.MarkHanded(i, ticks_);
    ++handed;
    ProcessActions(node);
  }
  if (handed > 0) {
    EndStep([&] { return absl::StrCat("clients hand ", handed, " proposals to ", primary); });
  }
}

// ---- Faults. ----

void PbftClusterSim::Crash(int64_t id, StrikePoint point, bool forever, int pre_prepare_reach) {
  SimNode& n = Get(id);
  if (n.replica == nullptr) return;
  if (point == StrikePoint::kNow) {
    DoCrash(n, forever);
    EndStep([&] { return absl::StrCat("crash ", id, forever ? " for good" : ""); });
    return;
  }
  n.armed = Armed{false, point, forever, pre_prepare_reach};
  Log(absl::StrCat("  node ", id, " will crash ", StrikePointName(point),
                   pre_prepare_reach >= 0 ? " of its next PRE_PREPARE" : "",
                   forever ? ", for good" : ""));
}

void PbftClusterSim::Silence(int64_t id, int pre_prepare_reach) {
  SimNode& n = Get(id);
  if (n.replica != nullptr) n.armed = Armed{true, StrikePoint::kMidSend, false, pre_prepare_reach};
}

void PbftClusterSim::MakeByzantine(int64_t id) { Get(id).byzantine = true; }

void PbftClusterSim::MakeForger(int64_t id) { Get(id).forger = true; }

void PbftClusterSim::MakeRequestForger(int64_t id) { Get(id).request_forger = true; }

bool PbftClusterSim::Reports(const SimNode& node) {
  return !node.byzantine && !node.request_forger;
}

void PbftClusterSim::Disarm() {
  for (int64_t id : ids_) Get(id).armed.reset();
}

void PbftClusterSim::DoCrash(SimNode& node, bool forever) {
  node.replica.reset();
  node.executor = PbftSimExecutor();
  node.armed.reset();
  node.down_forever = forever;
  node.forged.clear();
  ++crashes_;
  Trace(0xC4A5400000000000ULL | static_cast<uint64_t>(node.id));
  Log(absl::StrCat("  node ", node.id, " crashed", forever ? " for good" : ""));
}

PbftReplicaOptions PbftClusterSim::OptionsFor(int64_t id) const {
  PbftReplicaOptions options = replica_options_;
  options.sign = keys_.SignerFor(id);
  return options;
}

void PbftClusterSim::Restart(int64_t id) {
  SimNode& n = Get(id);
  if (n.replica != nullptr || n.down_forever) return;
  n.replica = std::make_unique<PbftReplica>(id, options_.num_nodes, OptionsFor(id));
  // The executor is volatile: run the ledger again.
  std::vector<std::pair<uint64_t, std::string>> digests;
  for (const auto& [seq, data] : n.disk.ledger()) {
    digests.emplace_back(seq, n.executor.Apply(seq, data));
    if (Reports(n)) invariants_.OnExecuted(id, seq, digests.back().second);
  }
  const RestoredState state = n.disk.Reopen();
  n.replica->Restore(state);
  invariants_.OnStart(id, state.last_committed);
  n.seen_view = state.view;
  n.seen_released = state.last_committed;
  // Executions above the stable checkpoint are reported again: their checkpoints may not be
  // stable yet.
  for (const auto& [seq, digest] : digests) {
    if (seq > state.stable.seq()) n.replica->OnExecuted(seq, digest);
  }
  Trace(0x5E57A27000000000ULL | static_cast<uint64_t>(id));
  Log(absl::StrCat("  node ", id, " restarts: view ", state.view,
                   state.view_active ? "" : " (changing)", ", stable ", state.stable.seq(),
                   ", ledger tip ", state.last_committed, ", ", state.slots.size(),
                   " slot records"));
  ProcessActions(n);
  EndStep([&] { return absl::StrCat("restart ", id); });
}

// ---- The durability contract. ----

void PbftClusterSim::ProcessActions(SimNode& node) {
  for (int round = 0; node.replica != nullptr; ++round) {
    if (round == kMaxActionRounds) {
      Fail(absl::StrCat("node ", node.id, " produced Actions for ", kMaxActionRounds,
                        " rounds without input"));
      return;
    }
    const Actions actions = node.replica->TakeActions();
    if (IsEmpty(actions)) return;
    const bool has_pre_prepare =
        std::any_of(actions.broadcast.begin(), actions.broadcast.end(),
                    [](const Request& m) { return m.type() == Request::TYPE_PRE_PREPARE; });
    std::optional<Armed> strike;
    if (node.armed.has_value() && (node.armed->pre_prepare_reach < 0 || has_pre_prepare)) {
      strike = node.armed;
    }
    if (strike && strike->point == StrikePoint::kBeforePersist) {
      DoCrash(node, strike->forever);
      return;
    }

    // 1. One durable write.
    if (!node.disk.Write(actions)) {
      Fail(absl::StrCat("node ", node.id, " released seq ", actions.execute.front().first,
                        " but its ledger ends at ", node.disk.ledger_tip()));
      return;
    }
    for (const auto& [seq, data] : actions.execute) {
      Trace(seq);
      if (Reports(node)) invariants_.OnRelease(node.id, seq, data);
    }
    if (actions.stable.has_value() && Reports(node)) {
      invariants_.OnStable(node.id, actions.stable->seq(), actions.stable->digest());
    }
    if (strike && strike->point == StrikePoint::kAfterPersist) {
      DoCrash(node, strike->forever);
      return;
    }

    // 2. Messages.
    if (strike) {
      node.armed.reset();
      SendPart(node, Outgoing(node, actions), strike->pre_prepare_reach);
      if (!strike->silence) {
        DoCrash(node, strike->forever);
        return;
      }
      node.silent = true;
      Log(absl::StrCat("  node ", node.id, " falls silent"));
    } else {
      for (const Envelope& e : Outgoing(node, actions)) SendOne(node, e);
    }

    // 3. Execution.
    Execute(node, actions);
  }
}

std::vector<Envelope> PbftClusterSim::Outgoing(SimNode& node, const Actions& actions) {
  std::vector<Envelope> out;
  auto sign = [&](const Request& m) {
    return std::make_shared<const SignedMessage>(keys_.SignedBySender(m));
  };
  for (const Request& broadcast : actions.broadcast) {
    Request m = broadcast;
    if (node.forger && broadcast.type() == Request::TYPE_VIEWCHANGE) {
      m = ForgeViewChange(node, broadcast);
    } else if (node.forger && broadcast.type() == Request::TYPE_NEWVIEW) {
      m = ForgeNewView(node, broadcast);
    }
    auto shared = std::make_shared<const Request>(m);
    auto signed_message = sign(m);
    for (int64_t to : ids_) {
      if (to == node.id) continue;
      Envelope e{node.id, to, shared, signed_message};
      auto replaced = node.replaced.find({m.view(), m.seq()});
      if (node.forger && m.type() == Request::TYPE_PRE_PREPARE && replaced != node.replaced.end()) {
        auto other = std::make_shared<Request>(m);
        other->set_data(replaced->second);
        other->set_hash(BatchDigest(replaced->second));
        e.signed_message = sign(*other);
        e.message = std::move(other);
      }
      if (node.byzantine && m.type() == Request::TYPE_PRE_PREPARE) {
        e = Equivocate(node, std::move(e));
      }
      if (node.request_forger && m.type() == Request::TYPE_PRE_PREPARE) {
        e = ForgeRequests(node, std::move(e));
      }
      out.push_back(std::move(e));
    }
  }
  for (const auto& [to, m] : actions.send) {
    Envelope e{node.id, to, std::make_shared<const Request>(m), sign(m)};
    // A PRE_PREPARE sent again to one backup carries what that backup got the first time.
    if (node.request_forger && m.type() == Request::TYPE_PRE_PREPARE) {
      e = ForgeRequests(node, std::move(e));
    }
    out.push_back(std::move(e));
  }
  for (const Request& fetch : actions.fetches) {
    const Request reply = node.replica->FetchReply(fetch, node.disk.LedgerFrom(fetch.seq()));
    out.push_back(
        Envelope{node.id, fetch.sender_id(), std::make_shared<const Request>(reply), sign(reply)});
  }
  return out;
}

Envelope PbftClusterSim::Equivocate(SimNode& node, Envelope envelope) {
  const Request& m = *envelope.message;
  auto key = std::make_pair(m.view(), m.seq());
  auto it = node.forged.find(key);
  if (it == node.forged.end()) {
    // Split the backups into two non-empty groups; the second gets another batch that is
    // still valid (a client's or the no-op), so only agreement can catch a mistake.
    std::vector<int64_t> backups;
    for (int64_t id : ids_) {
      if (id != node.id) backups.push_back(id);
    }
    std::set<int64_t> other;
    for (int64_t id : backups) {
      if (Draw(0, 1) == 1) other.insert(id);
    }
    if (other.empty()) other.insert(backups[static_cast<size_t>(Draw(0, backups.size() - 1))]);
    if (other.size() == backups.size()) other.erase(other.begin());
    std::string data;
    const auto& proposals = clients_.proposals();
    if (!proposals.empty() && Draw(0, 1) == 1) {
      data = proposals[static_cast<size_t>(Draw(0, proposals.size() - 1))].data;
    }
    if (data == m.data()) data = m.data().empty() ? proposals.front().data : "";
    it = node.forged.emplace(key, std::make_pair(other, data)).first;
  }
  if (it->second.first.count(envelope.to)) {
    auto forged = std::make_shared<Request>(m);
    forged->set_data(it->second.second);
    forged->set_hash(BatchDigest(it->second.second));
    envelope.signed_message = std::make_shared<const SignedMessage>(keys_.SignedBySender(*forged));
    envelope.message = std::move(forged);
    ++equivocations_;
  }
  return envelope;
}

Envelope PbftClusterSim::ForgeRequests(SimNode& node, Envelope envelope) {
  const Request& m = *envelope.message;
  // The no-op comes from a view change, whose NEWVIEW names it: only client batches.
  if (m.data().empty()) return envelope;
  auto key = std::make_pair(m.view(), m.seq());
  auto it = node.forged.find(key);
  if (it == node.forged.end()) {
    // Half of the time every backup gets the forged batch, so that only the signature check
    // keeps it from being committed; otherwise some backups do and the rest the client's.
    std::set<int64_t> receivers;
    const bool all = Draw(0, 1) == 1;
    for (int64_t id : ids_) {
      if (id != node.id && (all || Draw(0, 1) == 1)) receivers.insert(id);
    }
    it = node.forged.emplace(key, std::make_pair(receivers, ForgedBatch(node, m.data()))).first;
  }
  if (it->second.first.count(envelope.to)) {
    auto forged = std::make_shared<Request>(m);
    forged->set_data(it->second.second);
    forged->set_hash(BatchDigest(it->second.second));
    envelope.signed_message = std::make_shared<const SignedMessage>(keys_.SignedBySender(*forged));
    envelope.message = std::move(forged);
  }
  return envelope;
}

std::string PbftClusterSim::ForgedBatch(const SimNode& node, const std::string& batch) {
  BatchUserRequest requests;
  requests.ParseFromString(batch);
  const std::string payload = absl::StrCat("set k", Draw(0, 16), " forged by ", node.id);
  const int64_t kind = requests.requests_size() == 0 ? 1 : Draw(0, 2);
  if (kind != 1) {
    // A client's request, its id, key and signature, with another payload.
    UserRequest* altered =
        requests.mutable_requests(static_cast<int>(Draw(0, requests.requests_size() - 1)));
    altered->set_data(payload);
    ++forged_requests_;
  }
  if (kind != 0) {
    // A request in a client's name at the id it will use next, signed with the forger's key.
    const size_t victim = static_cast<size_t>(Draw(0, PbftSimClients::kClients - 1));
    const ClientIdentity& client = clients_.client(victim);
    UserRequest* made_up = requests.add_requests();
    made_up->set_client_id(client.client_id());
    made_up->set_request_id(clients_.NextRequestIdOf(victim));
    made_up->set_data(payload);
    made_up->set_client_public_key(client.public_key());
    made_up->set_client_signature(forger_key_->Sign(
        ClientSignedBytes(client.client_id(), made_up->request_id(), made_up->data())));
    ++forged_requests_;
  }
  return requests.SerializeAsString();
}

Request PbftClusterSim::ForgeViewChange(const SimNode& node, const Request& message) {
  ViewChange vc;
  if (message.view() == 0 || !vc.ParseFromString(message.data())) return message;
  // The highest view a certificate in this VIEWCHANGE may name, so that it wins over every
  // genuine one; every seq it may have seen committed, and a few beyond.
  const uint64_t view = message.view() - 1;
  const int n = options_.num_nodes;
  const int64_t primary = MessageValidator::PrimaryOf(view, n);
  Request forged = message;
  if (Draw(0, 1) == 1) {
    // A later stable checkpoint, so that the new primary would re-propose nothing below it:
    // CHECKPOINTs of a quorum, all signed with the forger's own key.
    const uint64_t interval = replica_options_.checkpoint_interval;
    const uint64_t stable = (vc.stable_seq() / interval + 1) * interval;
    vc.set_stable_seq(stable);
    vc.set_stable_digest(absl::StrCat("forged state at ", stable));
    vc.clear_checkpoints();
    for (int64_t id : ids_) {
      if (static_cast<size_t>(vc.checkpoints_size()) >= 2 * f() + 1) break;
      Request claimed;
      claimed.set_type(Request::TYPE_CHECKPOINT);
      claimed.set_sender_id(id);
      claimed.set_seq(stable);
      claimed.set_hash(vc.stable_digest());
      *vc.add_checkpoints() = keys_.SignAs(node.id, claimed);
    }
    forged.set_seq(stable);
    ++forgeries_;
  }
  const uint64_t first = vc.stable_seq() + 1;
  const uint64_t last = std::min(node.replica->last_executable_seq() + 3,
                                 vc.stable_seq() + replica_options_.watermark_window);
  const auto& proposals = clients_.proposals();
  vc.clear_prepared();
  for (uint64_t seq = first; seq <= last; ++seq) {
    const std::optional<std::string> committed = node.disk.LedgerEntry(seq);
    std::string data;
    if (committed.has_value() && committed->empty() && !proposals.empty()) {
      data = proposals[static_cast<size_t>(Draw(0, proposals.size() - 1))].data;
    }
    PreparedCertificate* cert = vc.add_prepared();
    cert->set_seq(seq);
    cert->set_view(view);
    cert->set_data(data);
    cert->set_digest(BatchDigest(data));
    Request claimed;
    claimed.set_view(view);
    claimed.set_seq(seq);
    claimed.set_hash(cert->digest());
    if (primary != node.id) {
      claimed.set_type(Request::TYPE_PRE_PREPARE);
      claimed.set_sender_id(primary);
      claimed.set_data(data);
      // Signed with the forger's own key: the only one it has.
      *cert->mutable_pre_prepare() = keys_.SignAs(node.id, claimed);
      claimed.clear_data();
    }
    claimed.set_type(Request::TYPE_PREPARE);
    // With its own, which its VIEWCHANGE vouches for, 2f PREPAREs.
    const size_t needed = 2 * f() - (primary == node.id ? 0 : 1);
    size_t claimed_prepares = 0;
    for (int64_t id : ids_) {
      if (id == primary || id == node.id || claimed_prepares >= needed) continue;
      claimed.set_sender_id(id);
      *cert->add_prepares() = keys_.SignAs(node.id, claimed);
      ++claimed_prepares;
    }
    ++forgeries_;
  }
  vc.SerializeToString(forged.mutable_data());
  return forged;
}

Request PbftClusterSim::ForgeNewView(SimNode& node, const Request& message) {
  NewView nv;
  if (!nv.ParseFromString(message.data())) return message;
  // Every VIEWCHANGE without its certificates, so the new view re-proposes nothing and the
  // batches they held are dropped.
  for (SignedMessage& envelope : *nv.mutable_view_changes()) {
    Request vc_message;
    ViewChange vc;
    if (!vc_message.ParseFromString(envelope.data()) || !vc.ParseFromString(vc_message.data())) {
      continue;
    }
    vc.clear_prepared();
    vc.SerializeToString(vc_message.mutable_data());
    const bool own = vc_message.sender_id() == node.id;
    envelope = keys_.SignAs(node.id, vc_message);
    if (own) envelope.clear_signature();
  }
  if (nv.pre_prepares_size() == 0) return message;
  const auto& proposals = clients_.proposals();
  for (const std::string& bytes : nv.pre_prepares()) {
    Request pre_prepare;
    if (!pre_prepare.ParseFromString(bytes)) continue;
    std::string other;
    if (pre_prepare.hash() == NullBatchDigest() && !proposals.empty()) {
      other = proposals[static_cast<size_t>(Draw(0, proposals.size() - 1))].data;
    }
    node.replaced[{pre_prepare.view(), pre_prepare.seq()}] = other;
  }
  nv.clear_pre_prepares();
  ++forgeries_;
  Request forged = message;
  nv.SerializeToString(forged.mutable_data());
  return forged;
}

void PbftClusterSim::SendPart(SimNode& node, const std::vector<Envelope>& out,
                              int pre_prepare_reach) {
  if (pre_prepare_reach < 0) {
    const int64_t prefix = Draw(0, static_cast<int64_t>(out.size()));
    for (int64_t i = 0; i < prefix; ++i) SendOne(node, out[static_cast<size_t>(i)]);
    return;
  }
  // Everything before the first PRE_PREPARE, then that PRE_PREPARE to `reach` peers.
  size_t i = 0;
  for (; i < out.size() && out[i].message->type() != Request::TYPE_PRE_PREPARE; ++i) {
    SendOne(node, out[i]);
  }
  std::vector<Envelope> copies;
  for (; i < out.size() && out[i].message->type() == Request::TYPE_PRE_PREPARE &&
         (copies.empty() || out[i].message->seq() == copies.front().message->seq());
       ++i) {
    copies.push_back(out[i]);
  }
  std::shuffle(copies.begin(), copies.end(), rng_);
  for (size_t k = 0; k < copies.size() && k < static_cast<size_t>(pre_prepare_reach); ++k) {
    SendOne(node, copies[k]);
  }
}

void PbftClusterSim::SendOne(SimNode& node, Envelope envelope) {
  if (node.silent) return;
  network_.Send(std::move(envelope), now_);
}

void PbftClusterSim::Execute(SimNode& node, const Actions& actions) {
  for (const auto& [seq, data] : actions.execute) {
    if (seq != node.executor.last_seq() + 1) {
      Fail(absl::StrCat("node ", node.id, " was given seq ", seq, " to execute after seq ",
                        node.executor.last_seq()));
      return;
    }
    const std::string digest = node.executor.Apply(seq, data);
    if (Reports(node)) invariants_.OnExecuted(node.id, seq, digest);
    node.replica->OnExecuted(seq, digest);
  }
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
