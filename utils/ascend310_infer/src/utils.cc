/**
 * File helpers of the Ascend 310 inference program (see inc/utils.h).
 */
#include "inc/utils.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <iostream>

namespace {

// The same image extensions as zoo_core.postprocess.IMAGE_EXTENSIONS, which labels the images.
const std::array<std::string, 4> kImageExtensions = {".jpeg", ".jpg", ".png", ".bmp"};
// Permissions of the class folders of the results (rwxr-xr-x before the umask).
constexpr mode_t kFolderMode = 0755;

std::string ToLower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool IsImage(const std::string &file_name) {
  auto dot = file_name.rfind('.');
  if (dot == std::string::npos) {
    return false;
  }
  auto extension = ToLower(file_name.substr(dot));
  return std::find(kImageExtensions.begin(), kImageExtensions.end(), extension) != kImageExtensions.end();
}

bool IsDirectory(const std::string &path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// Names of the entries of `dir` (without "." and ".."), sorted; empty if it cannot be opened.
std::vector<std::string> SortedEntries(const std::string &dir) {
  std::vector<std::string> names;
  DIR *handle = opendir(dir.c_str());
  if (handle == nullptr) {
    std::cerr << "cannot open folder " << dir << std::endl;
    return names;
  }
  for (struct dirent *entry = readdir(handle); entry != nullptr; entry = readdir(handle)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") {
      names.push_back(name);
    }
  }
  closedir(handle);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::string RealPath(const std::string &path) {
  char resolved[PATH_MAX] = {0};
  if (realpath(path.c_str(), resolved) == nullptr) {
    return "";
  }
  return resolved;
}

std::vector<std::string> ImageFolderFiles(const std::string &root) {
  std::vector<std::string> images;
  for (const auto &class_name : SortedEntries(root)) {
    std::string class_dir = root + "/" + class_name;
    if (!IsDirectory(class_dir)) {
      continue;
    }
    for (const auto &file_name : SortedEntries(class_dir)) {
      if (IsImage(file_name)) {
        images.push_back(class_dir + "/" + file_name);
      }
    }
  }
  return images;
}

mindspore::MSTensor ReadFileToTensor(const std::string &file) {
  std::ifstream stream(file, std::ios::binary | std::ios::ate);
  if (!stream) {
    std::cerr << "cannot open " << file << std::endl;
    return mindspore::MSTensor();
  }
  auto size = static_cast<size_t>(stream.tellg());
  mindspore::MSTensor buffer(file, mindspore::DataType::kNumberTypeUInt8, {static_cast<int64_t>(size)}, nullptr,
                             size);
  stream.seekg(0, std::ios::beg);
  stream.read(reinterpret_cast<char *>(buffer.MutableData()), static_cast<std::streamsize>(size));
  return buffer;
}

std::string ImageId(const std::string &path) {
  auto slash = path.rfind('/');
  size_t file_start = slash == std::string::npos ? 0 : slash + 1;
  // The class folder starts after the slash before the file's own (none for a bare `class/file`).
  auto class_slash = file_start < 2 ? std::string::npos : path.rfind('/', file_start - 2);
  size_t class_start = class_slash == std::string::npos ? 0 : class_slash + 1;
  auto dot = path.rfind('.');
  size_t end = dot == std::string::npos || dot < file_start ? path.size() : dot;
  return path.substr(class_start, end - class_start);
}

bool WriteResult(const std::string &image_file, const std::vector<mindspore::MSTensor> &outputs,
                 const std::string &result_dir) {
  std::string image_id = ImageId(image_file);
  auto slash = image_id.rfind('/');
  if (slash != std::string::npos) {
    std::string class_dir = result_dir + "/" + image_id.substr(0, slash);
    if (!IsDirectory(class_dir) && mkdir(class_dir.c_str(), kFolderMode) != 0) {
      std::cerr << "cannot create folder " << class_dir << std::endl;
      return false;
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string out_file = result_dir + "/" + image_id + "_" + std::to_string(i) + ".bin";
    std::ofstream stream(out_file, std::ios::binary | std::ios::trunc);
    auto data = outputs[i].Data();
    stream.write(reinterpret_cast<const char *>(data.get()), static_cast<std::streamsize>(outputs[i].DataSize()));
    if (!stream) {
      std::cerr << "cannot write " << out_file << std::endl;
      return false;
    }
  }
  return true;
}
