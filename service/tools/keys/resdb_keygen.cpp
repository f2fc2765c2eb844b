// resdb_keygen: writes a replica's Ed25519 key pair as PEM files.
//
//   resdb_keygen --private_key keys/replica1.key --public_key keys/replica1.pub
#include <cstdio>
#include <string>

#include "gflags/gflags.h"
#include "platform/common/crypto/signature.h"

DEFINE_string(private_key, "", "Path of the private key to write (mode 0600). Required.");
DEFINE_string(public_key, "", "Path of the public key to write. Required.");

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "writes an Ed25519 key pair for a replica.\n"
      "  resdb_keygen --private_key FILE --public_key FILE");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_private_key.empty() || FLAGS_public_key.empty()) {
    std::fprintf(stderr, "resdb_keygen: --private_key and --public_key are required\n");
    return 2;
  }
  absl::Status status = resdb::GenerateKeyPair(FLAGS_private_key, FLAGS_public_key);
  if (!status.ok()) {
    std::fprintf(stderr, "resdb_keygen: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
