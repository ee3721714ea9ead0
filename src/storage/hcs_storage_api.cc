#include "src/storage/hcs_storage_api.h"

#include "src/common/json.h"

namespace hcsshim::storage {

std::string layerData(const std::vector<Layer>& layers) {
  Json list = Json::array();
  for (const Layer& l : layers) list.push_back({{"Id", l.id}, {"Path", l.path}, {"PathType", l.pathType}});
  return jsonText(Json{{"SchemaVersion", {{"Major", 2}, {"Minor", 1}}}, {"Layers", list}});
}

}  // namespace hcsshim::storage
