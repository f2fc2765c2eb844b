#ifndef PLATFORM_COMMON_FUZZ_FUZZ_INPUT_H_
#define PLATFORM_COMMON_FUZZ_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace resdb {
namespace fuzz {

// Splits one fuzzer input into a sequence of small values, so that a target can drive a
// component through several calls (a run of messages, a set of stored records) from one byte
// string. Every Take* succeeds: past the end it yields zeros and empty strings, so any byte
// string is a valid input and mutations that cut it short still reach the code under test.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }

  uint8_t TakeByte() { return empty() ? 0 : data_[pos_++]; }

  // Eight bytes, most significant first (a seed can spell out a term or an index).
  uint64_t TakeUint64() {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | TakeByte();
    return value;
  }

  // A string prefixed by its 2-byte big-endian length, cut short at the end of the input.
  std::string TakeBytes() {
    size_t length = static_cast<size_t>(TakeByte()) << 8;
    length = std::min(length | TakeByte(), size_ - pos_);
    std::string out(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return out;
  }

 private:
  const uint8_t* const data_;
  const size_t size_;
  size_t pos_ = 0;
};

// Writes what FuzzInput reads, for seed corpora.
class FuzzInputWriter {
 public:
  FuzzInputWriter& AddByte(uint8_t value) {
    out_.push_back(static_cast<char>(value));
    return *this;
  }
  FuzzInputWriter& AddUint64(uint64_t value) {
    for (int shift = 56; shift >= 0; shift -= 8) AddByte(static_cast<uint8_t>(value >> shift));
    return *this;
  }
  // `bytes` must be shorter than 64 KiB.
  FuzzInputWriter& AddBytes(const std::string& bytes) {
    AddByte(static_cast<uint8_t>(bytes.size() >> 8));
    AddByte(static_cast<uint8_t>(bytes.size()));
    out_ += bytes;
    return *this;
  }

  const std::string& data() const { return out_; }

 private:
  std::string out_;
};

}  // namespace fuzz
}  // namespace resdb

#endif  // PLATFORM_COMMON_FUZZ_FUZZ_INPUT_H_
