/**
 * Ascend 310 inference of an exported ResNeSt/ResNeXt MINDIR over an ImageFolder tree.
 *
 * Each image is preprocessed on the host with the mindspore::dataset vision ops (no DVPP): decode,
 * resize the shorter side to floor(size / crop_pct), center crop to the model's input size, normalize
 * with the ImageNet mean/std, HWC -> CHW; the same steps as zoo_core.infer on the CPU. The logits of
 * image `<class>/<stem>.<ext>` are written to `<result_dir>/<class>/<stem>_0.bin` (float32), the mean time of a
 * forward pass to `<time_dir>/test_perform_static.txt`. postprocess.py scores the results.
 *
 *   main --mindir_path=NET.mindir --dataset_path=VAL_DIR --device_id=0 [--crop_pct=0.875]
 *        [--interpolation=bilinear|bicubic] [--result_dir=./result_Files] [--time_dir=./time_Result]
 */
#include <gflags/gflags.h>
#include <sys/time.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "include/api/model.h"
#include "include/api/types.h"
#include "include/dataset/execute.h"
#include "include/dataset/vision_lite.h"
#include "inc/model.h"
#include "inc/utils.h"

using mindspore::DataType;
using mindspore::Model;
using mindspore::MSTensor;
using mindspore::Status;
using mindspore::kSuccess;
using mindspore::dataset::Execute;
using mindspore::dataset::InterpolationMode;
using mindspore::dataset::TensorTransform;
using mindspore::dataset::vision::CenterCrop;
using mindspore::dataset::vision::Decode;
using mindspore::dataset::vision::HWC2CHW;
using mindspore::dataset::vision::Normalize;
using mindspore::dataset::vision::Resize;

DEFINE_string(mindir_path, "", "MINDIR exported with a static batch of 1");
DEFINE_string(dataset_path, "", "ImageFolder tree: <dataset_path>/<class>/<image>");
DEFINE_int32(device_id, 0, "Ascend device index");
DEFINE_double(crop_pct, 0.875, "center-crop fraction of the variant: resize to floor(size / crop_pct)");
DEFINE_string(interpolation, "bilinear", "resize interpolation of the variant: bilinear or bicubic");
DEFINE_string(result_dir, "./result_Files", "folder of the <class>/<image stem>_0.bin results (must exist)");
DEFINE_string(time_dir, "./time_Result", "folder of test_perform_static.txt (must exist)");

namespace {

// ImageNet mean and std (zoo_core.registry.IMAGENET_MEAN/STD) on the 0-255 pixel scale.
const std::vector<float> kMean = {0.485f * 255, 0.456f * 255, 0.406f * 255};
const std::vector<float> kStd = {0.229f * 255, 0.224f * 255, 0.225f * 255};
constexpr size_t kImageRank = 4;  // N, C, H, W
constexpr double kMsPerSecond = 1000.0;
constexpr double kMsPerMicrosecond = 0.001;
const char kTimeFile[] = "test_perform_static.txt";

double NowMs() {
  struct timeval now {};
  gettimeofday(&now, nullptr);
  return now.tv_sec * kMsPerSecond + now.tv_usec * kMsPerMicrosecond;
}

bool ParseInterpolation(const std::string &name, InterpolationMode *mode) {
  if (name == "bilinear") {
    *mode = InterpolationMode::kLinear;
  } else if (name == "bicubic") {
    *mode = InterpolationMode::kCubicPil;  // Pillow's bicubic, as zoo_core.infer and the eval pipeline
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  std::string mindir_path = RealPath(FLAGS_mindir_path);
  if (mindir_path.empty()) {
    std::cerr << "error: MINDIR '" << FLAGS_mindir_path << "' does not exist" << std::endl;
    return 1;
  }
  InterpolationMode interpolation;
  if (!ParseInterpolation(FLAGS_interpolation, &interpolation)) {
    std::cerr << "error: --interpolation must be bilinear or bicubic, got " << FLAGS_interpolation << std::endl;
    return 1;
  }
  if (FLAGS_crop_pct <= 0.0 || FLAGS_crop_pct > 1.0) {
    std::cerr << "error: --crop_pct must be in (0, 1], got " << FLAGS_crop_pct << std::endl;
    return 1;
  }
  if (FLAGS_device_id < 0) {
    std::cerr << "error: --device_id must be >= 0, got " << FLAGS_device_id << std::endl;
    return 1;
  }

  Model model;
  Status ret = BuildAscendModel(mindir_path, static_cast<uint32_t>(FLAGS_device_id), &model);
  if (ret != kSuccess) {
    std::cerr << "error: cannot load or build " << mindir_path << " on device " << FLAGS_device_id << ": "
              << ret.ToString() << std::endl;
    return 1;
  }

  std::vector<MSTensor> model_inputs = model.GetInputs();
  if (model_inputs.size() != 1 || model_inputs[0].Shape().size() != kImageRank) {
    std::cerr << "error: expected one input of shape (N, 3, H, W)" << std::endl;
    return 1;
  }
  const std::vector<int64_t> input_shape = model_inputs[0].Shape();
  if (input_shape[0] != 1 || input_shape[2] <= 0 || input_shape[3] <= 0) {
    std::cerr << "error: the MINDIR must take one image of a fixed size (batch 1, static shape); "
              << "export it with: python export.py --ckpt_file CKPT --file_format MINDIR --batch_size 1"
              << std::endl;
    return 1;
  }
  const auto height = static_cast<int32_t>(input_shape[2]);
  const auto width = static_cast<int32_t>(input_shape[3]);
  const auto resize = static_cast<int32_t>(std::floor(std::max(height, width) / FLAGS_crop_pct));

  std::vector<std::string> images = ImageFolderFiles(FLAGS_dataset_path);
  if (images.empty()) {
    std::cerr << "error: no images in the class folders of '" << FLAGS_dataset_path << "'" << std::endl;
    return 1;
  }

  std::vector<std::shared_ptr<TensorTransform>> transforms = {
      std::make_shared<Decode>(),
      std::make_shared<Resize>(std::vector<int32_t>{resize}, interpolation),
      std::make_shared<CenterCrop>(std::vector<int32_t>{height, width}),
      std::make_shared<Normalize>(kMean, kStd),
      std::make_shared<HWC2CHW>(),
  };
  Execute preprocess(transforms);

  double total_ms = 0.0;
  for (const auto &image_file : images) {
    MSTensor image = ReadFileToTensor(image_file);
    if (image.DataSize() == 0) {
      return 1;
    }
    ret = preprocess(image, &image);
    if (ret != kSuccess) {
      std::cerr << "error: cannot preprocess " << image_file << ": " << ret.ToString() << std::endl;
      return 1;
    }
    if (image.DataSize() != model_inputs[0].DataSize()) {
      std::cerr << "error: " << image_file << " preprocessed to " << image.DataSize() << " bytes, the model takes "
                << model_inputs[0].DataSize() << std::endl;
      return 1;
    }
    std::vector<MSTensor> inputs;
    inputs.emplace_back(model_inputs[0].Name(), model_inputs[0].DataType(), input_shape, image.Data().get(),
                        image.DataSize());
    std::vector<MSTensor> outputs;
    double start_ms = NowMs();
    ret = model.Predict(inputs, &outputs);
    total_ms += NowMs() - start_ms;
    if (ret != kSuccess) {
      std::cerr << "error: inference failed on " << image_file << ": " << ret.ToString() << std::endl;
      return 1;
    }
    if (outputs.empty() || outputs[0].DataType() != DataType::kNumberTypeFloat32) {
      std::cerr << "error: expected float32 logits from the network" << std::endl;
      return 1;
    }
    if (!WriteResult(image_file, outputs, FLAGS_result_dir)) {
      return 1;
    }
  }

  double mean_ms = total_ms / static_cast<double>(images.size());
  std::cout << "NN inference cost average time: " << mean_ms << " ms of infer_count " << images.size()
            << std::endl;
  std::ofstream time_file(FLAGS_time_dir + "/" + kTimeFile, std::ios::trunc);
  time_file << "NN inference cost average time: " << mean_ms << " ms of infer_count " << images.size()
            << std::endl;
  return time_file ? 0 : 1;
}
