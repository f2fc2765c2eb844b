#ifndef PLATFORM_NETWORKSTRATE_TLS_CREDENTIALS_H_
#define PLATFORM_NETWORKSTRATE_TLS_CREDENTIALS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "platform/config/resdb_config.h"

namespace grpc {
class ChannelArguments;
class ChannelCredentials;
class ServerContextBase;
class ServerCredentials;
}  // namespace grpc

namespace resdb {

// Identities. A replica's certificate names it "replica-<id>" in its common name and in a DNS
// subjectAltName; a client's certificate names the client (e.g. "admin") in its common name.
// Channels to a replica verify the name "replica-<id>" rather than the address they dial, so
// a certificate says who the replica is, not where it runs: moving a replica needs no new
// certificate, and a client that dials replica 2's address talks to replica 2 or to nobody.

// "replica-<id>".
std::string ReplicaIdentity(int64_t id);
// The replica id `identity` names, 0 when it names no replica.
int64_t ReplicaIdOf(absl::string_view identity);

// What a server listens with. With `tls` set: TLS that requires a client certificate signed
// by the config's CA. With allow_plaintext: no security. An error naming the field or file
// when the files cannot be read, or when the config sets neither (a config built in code that
// forgot both must not silently run unauthenticated).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ResDBConfig& config);

// What a channel to a replica uses: this process's certificate and the config's CA under
// `tls`, no security under allow_plaintext; errors as above.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ResDBConfig& config);

// Under `tls`, makes a channel built with `args` accept only a server certificate naming
// replica `replica_id`. No-op in plaintext mode.
void SetReplicaTargetName(const ResDBConfig& config, int64_t replica_id,
                          grpc::ChannelArguments* args);

// The common name of the certificate the caller of `context` presented and the CA verified;
// "" on a plaintext connection.
std::string PeerIdentity(const grpc::ServerContextBase& context);

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_TLS_CREDENTIALS_H_
