#include "platform/storage/scoped_temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {

ScopedTempDir::ScopedTempDir() {
  std::string base = testing::TempDir();
  if (!base.empty() && base.back() != '/') base.push_back('/');
  std::string pattern = base + "storage_XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << pattern << ") failed: " << std::strerror(errno);
    return;
  }
  path_ = buffer.data();
}

ScopedTempDir::~ScopedTempDir() {
  if (path_.empty()) return;
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

}  // namespace resdb
