#ifndef PLATFORM_STORAGE_SCOPED_TEMP_DIR_H_
#define PLATFORM_STORAGE_SCOPED_TEMP_DIR_H_

#include <string>

namespace resdb {

// A fresh, uniquely named directory under testing::TempDir(), removed with its contents on
// destruction. For tests only.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace resdb

#endif  // PLATFORM_STORAGE_SCOPED_TEMP_DIR_H_
