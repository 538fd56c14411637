/**
 * Building an exported MINDIR for an Ascend device, with either C++ runtime that can run it:
 * - MindSpore Lite (`libmindspore-lite.so`, defines ZOO_MINDSPORE_LITE): the only one from MindSpore 2.2 on,
 *   whose main package no longer enables the Atlas 200/300/500 inference interface;
 * - the `mindspore` package of MindSpore 2.1 and earlier (`libmindspore.so`), through its graph API.
 */
#ifndef ZOO_ASCEND310_INFER_MODEL_H_
#define ZOO_ASCEND310_INFER_MODEL_H_

#include <cstdint>
#include <string>

#include "include/api/model.h"
#include "include/api/status.h"

// Load `mindir_path` and build it into `model` on Ascend device `device_id`.
mindspore::Status BuildAscendModel(const std::string &mindir_path, uint32_t device_id, mindspore::Model *model);

#endif  // ZOO_ASCEND310_INFER_MODEL_H_
