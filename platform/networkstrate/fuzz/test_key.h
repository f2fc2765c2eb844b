#ifndef PLATFORM_NETWORKSTRATE_FUZZ_TEST_KEY_H_
#define PLATFORM_NETWORKSTRATE_FUZZ_TEST_KEY_H_

namespace resdb {

// An Ed25519 key pair made for the fuzz target and its seeds only (never a replica's), so
// that signed replica messages can get past the signature check.
inline constexpr char kFuzzTestPrivateKey[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIHN36H4nwLB8zjeNXT0wqdCM38KxAUqJV9U2AJdIkceK\n"
    "-----END PRIVATE KEY-----\n";
inline constexpr char kFuzzTestPublicKey[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAWKRarrdQcjnzd/yUx/UFjsetQfcdqjM2CIuVim9chJg=\n"
    "-----END PUBLIC KEY-----\n";

}  // namespace resdb

#endif  // PLATFORM_NETWORKSTRATE_FUZZ_TEST_KEY_H_
