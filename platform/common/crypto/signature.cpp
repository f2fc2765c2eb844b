#include "platform/common/crypto/signature.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace resdb {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// Drains this thread's OpenSSL error queue into one line, so that stale errors never leak into
// a later message.
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::Status FileError(const std::string& action, const std::string& path, int error) {
  std::string message = absl::StrCat("cannot ", action, " ", path, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FileError("open", path, errno);
  std::string contents;
  char buffer[4096];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      close(fd);
      return FileError("read", path, error);
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return contents;
}

// Writes `contents` to `path` with permission bits `mode`, also when the file already exists.
absl::Status WriteFile(const std::string& path, const std::string& contents, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return FileError("create", path, errno);
  // open() applies the umask and keeps the mode of an existing file; set it explicitly before
  // any secret is written.
  if (fchmod(fd, mode) != 0) {
    int error = errno;
    close(fd);
    return FileError("chmod", path, error);
  }
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int error = n < 0 ? errno : EIO;
      close(fd);
      return FileError("write", path, error);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int error = errno;
    close(fd);
    return FileError("sync", path, error);
  }
  if (close(fd) != 0) return FileError("close", path, errno);
  return absl::OkStatus();
}

BioPtr MemoryBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, size > 0 ? static_cast<size_t>(size) : 0);
}

absl::Status CheckEd25519(const EVP_PKEY* key, absl::string_view what) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is a ", EVP_PKEY_get0_type_name(key), " key, expected ED25519"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PkeyPtr> ParsePrivateKey(absl::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return absl::InternalError("cannot allocate a BIO: " + OpenSslErrors());
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError("not a PEM private key: " + OpenSslErrors());
  }
  if (absl::Status status = CheckEd25519(key.get(), "private key"); !status.ok()) return status;
  return key;
}

absl::StatusOr<PkeyPtr> ParsePublicKey(absl::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return absl::InternalError("cannot allocate a BIO: " + OpenSslErrors());
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError("not a PEM public key: " + OpenSslErrors());
  }
  if (absl::Status status = CheckEd25519(key.get(), "public key"); !status.ok()) return status;
  return key;
}

absl::StatusOr<PkeyPtr> NewEd25519Key() {
  ERR_clear_error();
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw_key) != 1) {
    return absl::InternalError("cannot generate an Ed25519 key: " + OpenSslErrors());
  }
  return PkeyPtr(raw_key);
}

// Prefixes the message of a failed status with the file it concerns.
absl::Status WithPath(const absl::Status& status, const std::string& path) {
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

}  // namespace

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    ERR_clear_error();
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

std::string ToHex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

absl::Status GenerateKeyPair(const std::string& private_key_path,
                             const std::string& public_key_path) {
  absl::StatusOr<PkeyPtr> generated = NewEd25519Key();
  if (!generated.ok()) return generated.status();
  PkeyPtr key = *std::move(generated);

  BioPtr private_pem(BIO_new(BIO_s_mem()));
  BioPtr public_pem(BIO_new(BIO_s_mem()));
  if (private_pem == nullptr || public_pem == nullptr ||
      PEM_write_bio_PrivateKey(private_pem.get(), key.get(), nullptr, nullptr, 0, nullptr,
                               nullptr) != 1 ||
      PEM_write_bio_PUBKEY(public_pem.get(), key.get()) != 1) {
    return absl::InternalError("cannot encode the Ed25519 key as PEM: " + OpenSslErrors());
  }
  std::string private_contents = BioContents(private_pem.get());
  absl::Status status = WriteFile(private_key_path, private_contents, 0600);
  OPENSSL_cleanse(private_contents.data(), private_contents.size());
  if (!status.ok()) return status;
  return WriteFile(public_key_path, BioContents(public_pem.get()), 0644);
}

struct Signer::Key {
  PkeyPtr pkey;
};

Signer::Signer(std::unique_ptr<Key> key) : key_(std::move(key)) {}

Signer::~Signer() = default;

absl::StatusOr<std::unique_ptr<Signer>> Signer::LoadFromFile(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<std::unique_ptr<Signer>> signer = LoadFromPem(*pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!signer.ok()) return WithPath(signer.status(), path);
  return signer;
}

absl::StatusOr<std::unique_ptr<Signer>> Signer::LoadFromPem(absl::string_view pem) {
  absl::StatusOr<PkeyPtr> pkey = ParsePrivateKey(pem);
  if (!pkey.ok()) return pkey.status();
  auto key = std::make_unique<Key>();
  key->pkey = *std::move(pkey);
  return std::unique_ptr<Signer>(new Signer(std::move(key)));
}

absl::StatusOr<std::unique_ptr<Signer>> Signer::Generate() {
  absl::StatusOr<PkeyPtr> generated = NewEd25519Key();
  if (!generated.ok()) return generated.status();
  auto key = std::make_unique<Key>();
  key->pkey = *std::move(generated);
  return std::unique_ptr<Signer>(new Signer(std::move(key)));
}

absl::StatusOr<std::unique_ptr<Signer>> Signer::FromSeed(absl::string_view seed) {
  if (seed.size() != 32) return absl::InvalidArgumentError("an Ed25519 seed has 32 bytes");
  ERR_clear_error();
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
  if (pkey == nullptr) {
    return absl::InternalError("cannot make an Ed25519 key from a seed: " + OpenSslErrors());
  }
  auto key = std::make_unique<Key>();
  key->pkey = std::move(pkey);
  return std::unique_ptr<Signer>(new Signer(std::move(key)));
}

std::string Signer::PublicKey() const {
  std::string out(32, '\0');
  size_t size = out.size();
  if (EVP_PKEY_get_raw_public_key(key_->pkey.get(), reinterpret_cast<unsigned char*>(out.data()),
                                  &size) != 1) {
    ERR_clear_error();
    return std::string();
  }
  out.resize(size);
  return out;
}

std::string Signer::Sign(absl::string_view data) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t size = 0;
  // Ed25519 signs the message itself: no separate digest.
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    ERR_clear_error();
    return std::string();
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    ERR_clear_error();
    return std::string();
  }
  signature.resize(size);
  return signature;
}

namespace {

bool VerifyWithKey(EVP_PKEY* pkey, absl::string_view data, absl::string_view signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool valid =
      ctx != nullptr && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1;
  if (!valid) ERR_clear_error();
  return valid;
}

}  // namespace

bool VerifyWithPublicKey(absl::string_view public_key, absl::string_view data,
                         absl::string_view signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size()));
  if (pkey == nullptr) {
    ERR_clear_error();
    return false;
  }
  return VerifyWithKey(pkey.get(), data, signature);
}

struct Verifier::Key {
  PkeyPtr pkey;
};

Verifier::Verifier() = default;

Verifier::~Verifier() = default;

absl::Status Verifier::AddPublicKeyFromFile(int64_t node_id, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  absl::Status status = AddPublicKeyFromPem(node_id, *pem);
  if (!status.ok()) return WithPath(status, path);
  return status;
}

absl::Status Verifier::AddPublicKeyFromPem(int64_t node_id, absl::string_view pem) {
  absl::StatusOr<PkeyPtr> pkey = ParsePublicKey(pem);
  if (!pkey.ok()) {
    return absl::Status(pkey.status().code(),
                        absl::StrCat("node ", node_id, ": ", pkey.status().message()));
  }
  auto key = std::make_unique<Key>();
  key->pkey = *std::move(pkey);
  std::lock_guard<std::mutex> lock(mu_);
  keys_[node_id] = std::move(key);
  return absl::OkStatus();
}

bool Verifier::HasKey(int64_t node_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.count(node_id) > 0;
}

bool Verifier::Verify(int64_t node_id, absl::string_view data, absl::string_view signature) const {
  // Take a reference so that verification runs outside the lock and survives a concurrent key
  // replacement.
  PkeyPtr pkey;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(node_id);
    if (it == keys_.end()) return false;
    if (EVP_PKEY_up_ref(it->second->pkey.get()) != 1) return false;
    pkey.reset(it->second->pkey.get());
  }
  return VerifyWithKey(pkey.get(), data, signature);
}

}  // namespace resdb
