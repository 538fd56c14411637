/**
 * Test driver of utils/ascend310_infer/src/utils.cc: lists the images of the ImageFolder tree argv[1] as
 * the Ascend 310 program does, and writes for each one result, the float32 value of its position in the
 * list, into the result folder argv[2]. Prints "<position> <image id>" per image.
 */
#include <iostream>
#include <string>
#include <vector>

#include "inc/utils.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    std::cerr << "usage: list_and_write IMAGE_TREE RESULT_DIR" << std::endl;
    return 2;
  }
  std::vector<std::string> images = ImageFolderFiles(argv[1]);
  for (size_t position = 0; position < images.size(); ++position) {
    auto value = static_cast<float>(position);
    std::vector<mindspore::MSTensor> outputs;
    outputs.emplace_back("logits", mindspore::DataType::kNumberTypeFloat32, std::vector<int64_t>{1}, &value,
                         sizeof(value));
    if (!WriteResult(images[position], outputs, argv[2])) {
      return 1;
    }
    std::cout << position << " " << ImageId(images[position]) << std::endl;
  }
  return 0;
}
