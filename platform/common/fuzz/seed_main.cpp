// Writes the seed corpora of one package's fuzz targets: `<binary> DIR` creates
// DIR/<target>/seed_<n> for every seed that the package's Seeds() returns.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "platform/common/fuzz/seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  int written = 0;
  for (const auto& [target, seeds] : resdb::fuzz::Seeds()) {
    const std::filesystem::path dir = std::filesystem::path(argv[1]) / target;
    std::filesystem::create_directories(dir);
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream out(dir / ("seed_" + std::to_string(i)), std::ios::binary | std::ios::trunc);
      out << seeds[i];
      if (!out) {
        std::fprintf(stderr, "cannot write %s\n", dir.c_str());
        return 1;
      }
      ++written;
    }
  }
  std::printf("wrote %d seeds\n", written);
  return 0;
}
