/**
 * The part of MindSpore's `include/api/types.h` that utils/ascend310_infer/src/utils.cc uses, so that the
 * file helpers of the Ascend 310 program compile and run on a machine without MindSpore's C++ package
 * (tests/test_ascend310_utils.py). Signatures follow MindSpore's MSTensor; the storage is a plain buffer.
 */
#ifndef ZOO_TEST_STUB_MINDSPORE_TYPES_H_
#define ZOO_TEST_STUB_MINDSPORE_TYPES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mindspore {

enum class DataType : int { kTypeUnknown = 0, kNumberTypeUInt8 = 37, kNumberTypeFloat32 = 43 };

class MSTensor {
 public:
  MSTensor() = default;
  MSTensor(const std::string &name, DataType type, const std::vector<int64_t> &shape, const void *data,
           size_t data_len)
      : buffer_(new char[data_len](), std::default_delete<char[]>()), size_(data_len) {
    if (data != nullptr) {
      std::copy(static_cast<const char *>(data), static_cast<const char *>(data) + data_len, buffer_.get());
    }
  }
  std::shared_ptr<const void> Data() const { return buffer_; }
  void *MutableData() { return buffer_.get(); }
  size_t DataSize() const { return size_; }

 private:
  std::shared_ptr<char> buffer_;
  size_t size_ = 0;
};

}  // namespace mindspore

#endif  // ZOO_TEST_STUB_MINDSPORE_TYPES_H_
