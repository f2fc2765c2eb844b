#ifndef PLATFORM_COMMON_FUZZ_SEEDS_H_
#define PLATFORM_COMMON_FUZZ_SEEDS_H_

#include <map>
#include <string>
#include <vector>

namespace resdb {
namespace fuzz {

// Seed inputs by fuzz target name. Each package's fuzz/seeds.cpp defines it, and links with
// seed_main, which writes them to files; a seed shows the fuzzer what valid input looks like
// so that it starts past the parsers' first checks.
std::map<std::string, std::vector<std::string>> Seeds();

}  // namespace fuzz
}  // namespace resdb

#endif  // PLATFORM_COMMON_FUZZ_SEEDS_H_
