#include "service/tools/admin/admin_client.h"

#include <algorithm>
#include <climits>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "platform/networkstrate/tls_credentials.h"
#include "platform/proto/service.grpc.pb.h"

namespace resdb {
namespace {

std::string Describe(const ReplicaInfo& replica) {
  // IPv6 literals need brackets in an address.
  const std::string host = replica.ip().find(':') != std::string::npos
                               ? absl::StrCat("[", replica.ip(), "]")
                               : replica.ip();
  return absl::StrCat("replica ", replica.id(), " at ", host, ":", replica.port());
}

std::string Target(const ReplicaInfo& replica) {
  if (replica.ip().find(':') != std::string::npos) {
    return absl::StrCat("[", replica.ip(), "]:", replica.port());
  }
  return absl::StrCat(replica.ip(), ":", replica.port());
}

std::string WithError(const std::string& text, const std::string& error) {
  return error.empty() ? text : absl::StrCat(text, ": ", error);
}

}  // namespace

absl::Status ResponseError(const std::string& who, const std::string& what,
                           const Response& response) {
  const std::string& error = response.error();
  switch (response.status()) {
    case Response::OK:
      return absl::OkStatus();
    case Response::UNIMPLEMENTED:
      return absl::UnimplementedError(
          WithError(absl::StrCat(who, " does not support ", what, "s"), error));
    case Response::INVALID_REQUEST:
      return absl::InvalidArgumentError(
          WithError(absl::StrCat(who, " rejected the ", what), error));
    case Response::NO_LEADER:
    case Response::UNAVAILABLE:
      return absl::UnavailableError(WithError(
          absl::StrCat(who, " is unavailable (", Response::Status_Name(response.status()), ")"),
          error));
    case Response::TIMEOUT:
      return absl::DeadlineExceededError(
          WithError(absl::StrCat(who, " timed out the ", what), error));
    case Response::PERMISSION_DENIED:
      return absl::PermissionDeniedError(
          WithError(absl::StrCat(who, " refused the ", what, " (PERMISSION_DENIED)"), error));
    default:
      return absl::InternalError(WithError(
          absl::StrCat(who, " failed (", Response::Status_Name(response.status()), ")"), error));
  }
}

std::string DescribeReplica(const ReplicaInfo& replica) { return Describe(replica); }

absl::StatusOr<Response> CallReplica(const ReplicaInfo& replica, const Request& request,
                                     const std::string& what, const ResDBConfig& config,
                                     std::chrono::milliseconds timeout) {
  const std::string who = Describe(replica);
  if (timeout.count() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " to ", who, ": the timeout must be positive, not ", timeout.count(), " ms"));
  }
  auto credentials = MakeChannelCredentials(config);
  if (!credentials.ok()) return credentials.status();
  const int64_t max_message_bytes = config.GetMaxMessageBytes();
  // -1 lifts gRPC's limit.
  const int max_bytes =
      max_message_bytes > 0 ? static_cast<int>(std::min<int64_t>(max_message_bytes, INT_MAX)) : -1;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_bytes);
  args.SetMaxSendMessageSize(max_bytes);
  SetReplicaTargetName(config, replica.id(), &args);
  std::unique_ptr<ResDBService::Stub> stub =
      ResDBService::NewStub(grpc::CreateCustomChannel(Target(replica), *credentials, args));

  ResDBMessage envelope;
  request.SerializeToString(envelope.mutable_data());

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  Response response;
  const grpc::Status rpc = stub->Call(&context, envelope, &response);
  if (!rpc.ok()) {
    if (rpc.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return absl::DeadlineExceededError(absl::StrCat("no answer to the ", what, " from ", who,
                                                      " within ", timeout.count(), " ms"));
    }
    if (rpc.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      return absl::UnimplementedError(
          absl::StrCat(who, " does not serve ResDBService.Call: ", rpc.error_message()));
    }
    return absl::UnavailableError(absl::StrCat(who, " is unreachable: ", rpc.error_message()));
  }
  return response;
}

absl::StatusOr<ReplicaStatus> GetReplicaStatus(const ReplicaInfo& replica,
                                               const ResDBConfig& config,
                                               std::chrono::milliseconds timeout) {
  const std::string who = Describe(replica);
  Request request;
  request.set_type(Request::TYPE_STATUS);
  absl::StatusOr<Response> response =
      CallReplica(replica, request, "status request", config, timeout);
  if (!response.ok()) return response.status();
  if (response->status() != Response::OK) return ResponseError(who, "status request", *response);

  ReplicaStatus status;
  if (!status.ParseFromString(response->data())) {
    return absl::InternalError(
        absl::StrCat(who, " answered with data that is not a ReplicaStatus"));
  }
  if (status.id() == 0) {
    status.set_id(replica.id());
  } else if (status.id() != replica.id()) {
    return absl::FailedPreconditionError(absl::StrCat(who, " reports itself as replica ",
                                                      status.id(), "; the config is wrong for it"));
  }
  return status;
}

std::vector<ReplicaStatusResult> GetClusterStatus(const ResDBConfig& config,
                                                  std::chrono::milliseconds timeout) {
  const std::vector<ReplicaInfo>& replicas = config.GetReplicaInfos();
  std::vector<ReplicaStatusResult> results;
  results.reserve(replicas.size());
  for (const ReplicaInfo& replica : replicas) {
    results.emplace_back(replica, absl::UnknownError("not asked"));
  }
  std::vector<std::thread> threads;
  threads.reserve(replicas.size());
  for (ReplicaStatusResult& result : results) {
    // Each thread writes only its own element, which outlives the thread.
    threads.emplace_back([&result, &config, timeout] {
      result.second = GetReplicaStatus(result.first, config, timeout);
    });
  }
  for (std::thread& thread : threads) thread.join();
  return results;
}

}  // namespace resdb
