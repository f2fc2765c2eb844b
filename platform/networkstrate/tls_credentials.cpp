#include "platform/networkstrate/tls_credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace resdb {
namespace {

constexpr absl::string_view kReplicaPrefix = "replica-";

absl::StatusOr<std::string> ReadPem(const std::string& field, const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    return absl::NotFoundError(absl::StrCat(field, ": cannot read ", path));
  }
  return text.str();
}

struct PemFiles {
  std::string ca;
  std::string cert;
  std::string key;
};

absl::StatusOr<PemFiles> ReadPemFiles(const ResDBConfig& config) {
  PemFiles files;
  auto ca = ReadPem("tls.ca_file", config.GetConfigData().tls().ca_file());
  if (!ca.ok()) return ca.status();
  auto cert = ReadPem("tls.cert_file", config.GetTlsCertFile());
  if (!cert.ok()) return cert.status();
  auto key = ReadPem("tls.key_file", config.GetTlsKeyFile());
  if (!key.ok()) return key.status();
  return PemFiles{*std::move(ca), *std::move(cert), *std::move(key)};
}

absl::Status NeitherTlsNorPlaintext() {
  return absl::FailedPreconditionError(
      "tls: missing: set tls (ca_file, cert_file, key_file) or, to run without "
      "authentication, allow_plaintext: true");
}

}  // namespace

std::string ReplicaIdentity(int64_t id) { return absl::StrCat(kReplicaPrefix, id); }

int64_t ReplicaIdOf(absl::string_view identity) {
  if (!absl::ConsumePrefix(&identity, kReplicaPrefix)) return 0;
  int64_t id = 0;
  if (!absl::SimpleAtoi(identity, &id) || id <= 0) return 0;
  // "replica-01" and "replica-+1" are not the canonical name of any replica.
  return ReplicaIdentity(id) == absl::StrCat(kReplicaPrefix, identity) ? id : 0;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ResDBConfig& config) {
  if (!config.UsesTls()) {
    if (!config.GetConfigData().allow_plaintext()) return NeitherTlsNorPlaintext();
    return grpc::InsecureServerCredentials();
  }
  auto files = ReadPemFiles(config);
  if (!files.ok()) return files.status();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = files->ca;
  options.pem_key_cert_pairs.push_back({files->key, files->cert});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ResDBConfig& config) {
  if (!config.UsesTls()) {
    if (!config.GetConfigData().allow_plaintext()) return NeitherTlsNorPlaintext();
    return grpc::InsecureChannelCredentials();
  }
  auto files = ReadPemFiles(config);
  if (!files.ok()) return files.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = files->ca;
  options.pem_private_key = files->key;
  options.pem_cert_chain = files->cert;
  return grpc::SslCredentials(options);
}

void SetReplicaTargetName(const ResDBConfig& config, int64_t replica_id,
                          grpc::ChannelArguments* args) {
  if (!config.UsesTls()) return;
  args->SetSslTargetNameOverride(ReplicaIdentity(replica_id));
}

std::string PeerIdentity(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  std::vector<grpc::string_ref> names = auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (names.empty()) return "";
  return std::string(names.front().data(), names.front().size());
}

}  // namespace resdb
