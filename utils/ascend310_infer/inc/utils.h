/**
 * File helpers of the Ascend 310 inference program: the image list of an ImageFolder tree, reading an
 * image into a tensor, writing the network outputs as `<class>/<image stem>_<output index>.bin`. An image
 * is known by its path in the tree without extension (its id, as zoo_core.deploy.postprocess.image_id),
 * so that class folders may reuse file names.
 */
#ifndef ZOO_ASCEND310_INFER_UTILS_H_
#define ZOO_ASCEND310_INFER_UTILS_H_

#include <string>
#include <vector>

#include "include/api/types.h"

// Absolute path of an existing file or folder; empty if it does not exist.
std::string RealPath(const std::string &path);

// Images of an ImageFolder tree `root/<class>/<image>` (.jpeg .jpg .png .bmp, any case), sorted by
// class folder then file name. Empty if `root` cannot be read.
std::vector<std::string> ImageFolderFiles(const std::string &root);

// The bytes of `file` as a uint8 tensor, for dataset::vision::Decode. An empty tensor on failure.
mindspore::MSTensor ReadFileToTensor(const std::string &file);

// `n01440764/ILSVRC2012_val_00000001` for `/data/val/n01440764/ILSVRC2012_val_00000001.JPEG`: the class
// folder and the file name without extension.
std::string ImageId(const std::string &path);

// Write output i of the network for `image_file` to `result_dir/<class>/<stem>_<i>.bin`, creating the class
// folder; false on failure.
bool WriteResult(const std::string &image_file, const std::vector<mindspore::MSTensor> &outputs,
                 const std::string &result_dir);

#endif  // ZOO_ASCEND310_INFER_UTILS_H_
