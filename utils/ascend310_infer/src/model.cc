/**
 * Building an exported MINDIR for an Ascend device (see inc/model.h).
 */
#include "inc/model.h"

#include <memory>

#include "include/api/context.h"
#include "include/api/serialization.h"

mindspore::Status BuildAscendModel(const std::string &mindir_path, uint32_t device_id, mindspore::Model *model) {
  auto context = std::make_shared<mindspore::Context>();
  auto ascend = std::make_shared<mindspore::AscendDeviceInfo>();
  ascend->SetDeviceID(device_id);
  context->MutableDeviceInfo().push_back(ascend);
#ifdef ZOO_MINDSPORE_LITE
  // MindSpore Lite's cloud inference: the model is read and compiled by one call.
  return model->Build(mindir_path, mindspore::ModelType::kMindIR, context);
#else
  mindspore::Graph graph;
  mindspore::Status loaded = mindspore::Serialization::Load(mindir_path, mindspore::ModelType::kMindIR, &graph);
  if (loaded != mindspore::kSuccess) {
    return loaded;
  }
  return model->Build(mindspore::GraphCell(graph), context);
#endif
}
