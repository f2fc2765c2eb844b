#include "platform/common/crypto/signature.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resdb {
namespace {

using ::testing::HasSubstr;

// Output of `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` for it.
constexpr char kOpensslPrivatePem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJzCdsva3+j1qZbrl8MlpTuegirAhi3PGijM04ZrRGkL\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kOpensslPublicPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAObOjgb7dM5oGAttumV+tMQ0BWqkJvlM9cEGn5KxKClY=\n"
    "-----END PUBLIC KEY-----\n";

// RFC 8032 section 7.1, TEST 1 (secret key 9d61b19d..., public key d75a9801...).
constexpr char kRfcPrivatePem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kRfcPublicPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n";
constexpr char kRfcEmptyMessageSignatureHex[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

std::string TempPath(const std::string& name) {
  std::string dir = testing::TempDir();
  if (!dir.empty() && dir.back() != '/') dir.push_back('/');
  return dir + name;
}

std::unique_ptr<Signer> LoadSigner(absl::string_view pem) {
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::LoadFromPem(pem);
  EXPECT_TRUE(signer.ok()) << signer.status();
  return signer.ok() ? *std::move(signer) : nullptr;
}

TEST(Sha256Test, MatchesKnownVectors) {
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256("abc").size(), 32u);
}

TEST(ToHexTest, IsLowerCaseAndCoversEveryByte) {
  EXPECT_EQ(ToHex(std::string("\x00\x0f\xab\xff", 4)), "000fabff");
  EXPECT_EQ(ToHex(""), "");
}

TEST(SignatureTest, MatchesRfc8032Vector) {
  std::unique_ptr<Signer> signer = LoadSigner(kRfcPrivatePem);
  ASSERT_NE(signer, nullptr);
  const std::string signature = signer->Sign("");
  EXPECT_EQ(ToHex(signature), kRfcEmptyMessageSignatureHex);

  Verifier verifier;
  ASSERT_TRUE(verifier.AddPublicKeyFromPem(1, kRfcPublicPem).ok());
  EXPECT_TRUE(verifier.Verify(1, "", absl::HexStringToBytes(kRfcEmptyMessageSignatureHex)));
}

TEST(SignatureTest, SignVerifyRoundTripWithOpensslGeneratedKey) {
  std::unique_ptr<Signer> signer = LoadSigner(kOpensslPrivatePem);
  ASSERT_NE(signer, nullptr);
  Verifier verifier;
  ASSERT_TRUE(verifier.AddPublicKeyFromPem(7, kOpensslPublicPem).ok());
  EXPECT_TRUE(verifier.HasKey(7));

  const std::string message = "pre-prepare view=3 seq=42";
  const std::string signature = signer->Sign(message);
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(verifier.Verify(7, message, signature));
  // Binary data with embedded zero bytes.
  const std::string binary("\x00\x01\x00\xff", 4);
  EXPECT_TRUE(verifier.Verify(7, binary, signer->Sign(binary)));
}

TEST(SignatureTest, TamperedDataOrSignatureFails) {
  std::unique_ptr<Signer> signer = LoadSigner(kOpensslPrivatePem);
  ASSERT_NE(signer, nullptr);
  Verifier verifier;
  ASSERT_TRUE(verifier.AddPublicKeyFromPem(7, kOpensslPublicPem).ok());

  const std::string message = "commit seq=42";
  const std::string signature = signer->Sign(message);
  ASSERT_TRUE(verifier.Verify(7, message, signature));

  EXPECT_FALSE(verifier.Verify(7, "commit seq=43", signature));
  EXPECT_FALSE(verifier.Verify(7, message + " ", signature));
  std::string flipped = signature;
  flipped[10] ^= 0x01;
  EXPECT_FALSE(verifier.Verify(7, message, flipped));
  EXPECT_FALSE(verifier.Verify(7, message, signature.substr(0, 63)));
  EXPECT_FALSE(verifier.Verify(7, message, signature + "x"));
  EXPECT_FALSE(verifier.Verify(7, message, ""));
}

TEST(SignatureTest, WrongNodeKeyAndUnknownNodeFail) {
  std::unique_ptr<Signer> signer = LoadSigner(kOpensslPrivatePem);
  ASSERT_NE(signer, nullptr);
  Verifier verifier;
  ASSERT_TRUE(verifier.AddPublicKeyFromPem(1, kOpensslPublicPem).ok());
  ASSERT_TRUE(verifier.AddPublicKeyFromPem(2, kRfcPublicPem).ok());

  const std::string signature = signer->Sign("prepare");
  EXPECT_TRUE(verifier.Verify(1, "prepare", signature));
  EXPECT_FALSE(verifier.Verify(2, "prepare", signature));
  EXPECT_FALSE(verifier.HasKey(3));
  EXPECT_FALSE(verifier.Verify(3, "prepare", signature));
}

TEST(SignatureTest, ConcurrentSignAndVerify) {
  std::unique_ptr<Signer> signer = LoadSigner(kOpensslPrivatePem);
  ASSERT_NE(signer, nullptr);
  Verifier verifier;
  ASSERT_TRUE(verifier.AddPublicKeyFromPem(1, kOpensslPublicPem).ok());
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string message = std::to_string(t * 1000 + i);
        if (!verifier.Verify(1, message, signer->Sign(message))) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST(SignatureTest, GarbageAndWrongKindsOfPemAreErrors) {
  EXPECT_FALSE(Signer::LoadFromPem("").ok());
  EXPECT_FALSE(Signer::LoadFromPem("not a key at all").ok());
  EXPECT_FALSE(
      Signer::LoadFromPem("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n").ok());
  // A public key is not a private key, and vice versa.
  EXPECT_FALSE(Signer::LoadFromPem(kOpensslPublicPem).ok());

  Verifier verifier;
  absl::Status garbage = verifier.AddPublicKeyFromPem(4, "garbage");
  EXPECT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.message(), HasSubstr("node 4"));
  EXPECT_FALSE(verifier.AddPublicKeyFromPem(4, kOpensslPrivatePem).ok());
  EXPECT_FALSE(verifier.HasKey(4));
}

TEST(SignatureTest, NonEd25519KeyIsRejected) {
  // An EC P-256 key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256).
  constexpr char kEcPrivatePem[] =
      "-----BEGIN PRIVATE KEY-----\n"
      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAssi/Gbas5WDnkbY\n"
      "z+OmWgN6iXy0tkSOWtHjOTC6q6mhRANCAAQH1p0XZ8UoDK2ORzDAriCm2w7hT1kt\n"
      "S2lou1GTTU6Nw6h5Dh6DKaUtnO+N8VmspskeYfGbYKWl8kg0jPU1K6a2\n"
      "-----END PRIVATE KEY-----\n";
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::LoadFromPem(kEcPrivatePem);
  ASSERT_FALSE(signer.ok());
  EXPECT_THAT(signer.status().message(), HasSubstr("ED25519"));
}

TEST(SignatureTest, FileErrorsNameTheFile) {
  const std::string missing = TempPath("no_such_key.pem");
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::LoadFromFile(missing);
  ASSERT_FALSE(signer.ok());
  EXPECT_TRUE(absl::IsNotFound(signer.status())) << signer.status();
  EXPECT_THAT(signer.status().message(), HasSubstr(missing));

  const std::string garbage = TempPath("garbage.pem");
  std::ofstream(garbage) << "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  signer = Signer::LoadFromFile(garbage);
  ASSERT_FALSE(signer.ok());
  EXPECT_THAT(signer.status().message(), HasSubstr(garbage));

  Verifier verifier;
  absl::Status status = verifier.AddPublicKeyFromFile(1, garbage);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(garbage));
  status = verifier.AddPublicKeyFromFile(1, missing);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(missing));

  status = GenerateKeyPair(TempPath("no_such_dir/key.pem"), TempPath("no_such_dir/key.pub"));
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("no_such_dir/key.pem"));
}

TEST(SignatureTest, GeneratedKeysReloadAndPrivateKeyIsOwnerOnly) {
  const std::string private_path = TempPath("generated.pem");
  const std::string public_path = TempPath("generated.pub");
  ASSERT_TRUE(GenerateKeyPair(private_path, public_path).ok());

  struct stat info;
  ASSERT_EQ(stat(private_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::LoadFromFile(private_path);
  ASSERT_TRUE(signer.ok()) << signer.status();
  Verifier verifier;
  ASSERT_TRUE(verifier.AddPublicKeyFromFile(9, public_path).ok());
  EXPECT_TRUE(verifier.Verify(9, "checkpoint", (*signer)->Sign("checkpoint")));
  // A fresh pair, not the fixture key.
  ASSERT_TRUE(verifier.AddPublicKeyFromPem(10, kOpensslPublicPem).ok());
  EXPECT_FALSE(verifier.Verify(10, "checkpoint", (*signer)->Sign("checkpoint")));
}

TEST(SignatureTest, RegeneratingOverAWorldReadableFileRestrictsIt) {
  const std::string private_path = TempPath("regenerated.pem");
  const std::string public_path = TempPath("regenerated.pub");
  std::ofstream(private_path) << "old";
  ASSERT_EQ(chmod(private_path.c_str(), 0644), 0);

  ASSERT_TRUE(GenerateKeyPair(private_path, public_path).ok());
  struct stat info;
  ASSERT_EQ(stat(private_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_TRUE(Signer::LoadFromFile(private_path).ok());
}

}  // namespace
}  // namespace resdb
