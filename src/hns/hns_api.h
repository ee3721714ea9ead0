// hns_api.h: the HNS/HCN API seam, shaped like computenetwork.dll.
//
// Implementations: hcs_fake::InProcessHns (the fake HNS in this process),
// platforms/linux::DaemonHns (the hcs_fake daemon's HNS over its socket) and,
// on Windows, computenetwork.dll. Documents in and out are JSON strings
// (src/schema/hns.h). Failures carry HNS's HRESULT (HCN_E_*, or
// ERROR_NOT_FOUND for unknown ids) and its error text.
//
// The HcnOpen/HcnQuery/HcnClose triple of the DLL is one `query` here: the
// seam is stateless, which is what every caller does with the handles anyway.
#pragma once

#include <string>

#include "src/common/status.h"
#include "src/runtime/task.h"

namespace hcsshim::hns {

enum class HcnObject { kNetwork, kEndpoint, kNamespace, kLoadBalancer, kRoute };

// objectName: "Network", "Endpoint", "Namespace", "LoadBalancer", "SdnRoute".
const char* objectName(HcnObject type);
// parseObject: the inverse (also the lower-case plural CLI forms: networks...).
StatusOr<HcnObject> parseObject(const std::string& name);

class HnsApi {
 public:
  virtual ~HnsApi() = default;

  // HcnEnumerate<Object>s: a JSON array of the ids that match `query` (a
  // HostComputeQuery document; "" = all).
  virtual runtime::Task<StatusOr<std::string>> enumerate(HcnObject type, std::string query) = 0;
  // HcnCreate<Object>: `id` may be empty (the service assigns one); for an
  // endpoint `network` is the network it is created on (HcnCreateEndpoint
  // takes the network's handle). Returns the new object's properties.
  virtual runtime::Task<StatusOr<std::string>> create(HcnObject type, std::string id, std::string network,
                                                      std::string settings) = 0;
  // HcnOpen<Object> + HcnQuery<Object>Properties.
  virtual runtime::Task<StatusOr<std::string>> query(HcnObject type, std::string id, std::string query) = 0;
  // HcnModify<Object>: a ModifySettingRequest-shaped document.
  virtual runtime::Task<Status> modify(HcnObject type, std::string id, std::string settings) = 0;
  // HcnDelete<Object>.
  virtual runtime::Task<Status> remove(HcnObject type, std::string id) = 0;
  // HNSCall (the v1 API): GET/POST/DELETE on /networks, /endpoints,
  // /policylists and GET /globals/version; returns the response's Output.
  virtual runtime::Task<StatusOr<std::string>> hnsCall(std::string method, std::string path, std::string request) = 0;
};

}  // namespace hcsshim::hns
