#include "src/hns/hns_api.h"

namespace hcsshim::hns {

const char* objectName(HcnObject type) {
  switch (type) {
    case HcnObject::kNetwork: return "Network";
    case HcnObject::kEndpoint: return "Endpoint";
    case HcnObject::kNamespace: return "Namespace";
    case HcnObject::kLoadBalancer: return "LoadBalancer";
    case HcnObject::kRoute: return "SdnRoute";
  }
  return "Unknown";
}

StatusOr<HcnObject> parseObject(const std::string& name) {
  for (HcnObject t : {HcnObject::kNetwork, HcnObject::kEndpoint, HcnObject::kNamespace, HcnObject::kLoadBalancer,
                      HcnObject::kRoute}) {
    std::string n = objectName(t), l;
    for (char c : n) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (name == n || name == l || name == l + "s") return t;
  }
  if (name == "routes" || name == "route") return HcnObject::kRoute;
  if (name == "loadbalancers" || name == "lb" || name == "lbs") return HcnObject::kLoadBalancer;
  return InvalidArgumentError("unknown HCN object type \"" + name +
                              "\" (network, endpoint, namespace, loadbalancer, route)");
}

}  // namespace hcsshim::hns
