// hcn.h: the typed HCN (HNS v2) client over an HnsApi, with HNS's
// version-gated features checked before a request reaches the service.
//
//   hns::HcnClient hcn(api);
//   schema::HostComputeNetwork n;  n.name = "nat"; n.type = "NAT"; ...
//   HCS_CO_ASSIGN_OR_RETURN(auto net, co_await hcn.createNetwork(n));
//   HCS_CO_ASSIGN_OR_RETURN(auto ep, co_await hcn.createEndpoint(*net.id, {}));
//   HCS_CO_RETURN_IF_ERROR(co_await hcn.attachEndpoint(nsId, *ep.id));
//
// A feature the service's version lacks is refused with Unimplemented
// (HCN_E_REQUEST_UNSUPPORTED) naming the feature, the service's version and
// the version needed; nothing is sent.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/hns/hns_api.h"
#include "src/schema/hns.h"

namespace hcsshim::hns {

// namespaceForNetns: the HCN namespace that stands for a Linux network
// namespace path (what containerd's CRI on Linux names a pod's network by,
// e.g. /var/run/netns/cni-...): a GUID from a digest of the path, so the
// runhcs CNI plugin's ADD creates the HCN namespace under that ID and the
// shim finds it from the spec alone. Same path, same ID.
std::string namespaceForNetns(std::string_view netnsPath);

// natNetwork: the document of a NAT network over one subnet whose default
// route is `gateway` (what the nat CNI plugin and most tests make).
schema::HostComputeNetwork natNetwork(std::string name, std::string subnet, std::string gateway);


// Feature gates: the minimum HNS version of each (facts: hns-hcn.md).
struct Feature {
  const char* name;
  uint32_t major, minor;
};
inline constexpr Feature kV2Api{"the HCN v2 API", 9, 2};
inline constexpr Feature kDsr{"direct server return (load balancer Flags 1)", 9, 3};
inline constexpr Feature kDualStack{"IPv6 dual stack", 11, 10};
inline constexpr Feature kSessionAffinity{"load balancer session affinity (DistributionType)", 12, 0};
inline constexpr Feature kSetPolicy{"SetPolicy network policies", 13, 0};
inline constexpr Feature kTierAcl{"TierAcl endpoint policies", 14, 0};
inline constexpr Feature kNetworkAcl{"NetworkACL network policies", 15, 0};
inline constexpr Feature kModifyLoadBalancer{"modifying a load balancer", 15, 4};
inline constexpr Feature kAccelnet{"accelerated networking (Iov endpoint policies)", 15, 4};

bool supports(const schema::HcnVersion& v, const Feature& f);

class HcnClient {
 public:
  explicit HcnClient(HnsApi& api) : api_(api) {}

  // version: GET /globals/version (cached after the first answer).
  runtime::Task<StatusOr<schema::HcnVersion>> version();
  // require: OK if the service's version has the feature.
  runtime::Task<Status> require(Feature f, std::string op, std::string id);

  runtime::Task<StatusOr<schema::HostComputeNetwork>> createNetwork(schema::HostComputeNetwork n);
  runtime::Task<StatusOr<schema::HostComputeNetwork>> getNetwork(std::string id);
  // listNetworks: filter is a JSON object of top-level property values ({"Name": "nat"}).
  runtime::Task<StatusOr<std::vector<schema::HostComputeNetwork>>> listNetworks(Json filter);
  runtime::Task<Status> deleteNetwork(std::string id);
  // modifyNetworkPolicies: requestType "Add" or "Remove".
  runtime::Task<Status> modifyNetworkPolicies(std::string id, std::string requestType,
                                              std::vector<schema::HcnPolicy> policies);

  runtime::Task<StatusOr<schema::HostComputeEndpoint>> createEndpoint(std::string networkId,
                                                                      schema::HostComputeEndpoint e);
  runtime::Task<StatusOr<schema::HostComputeEndpoint>> getEndpoint(std::string id);
  runtime::Task<StatusOr<std::vector<schema::HostComputeEndpoint>>> listEndpoints(Json filter);
  runtime::Task<Status> deleteEndpoint(std::string id);
  // modifyEndpointPolicies: requestType "Add", "Remove" or "Update" (replace all).
  runtime::Task<Status> modifyEndpointPolicies(std::string id, std::string requestType,
                                               std::vector<schema::HcnPolicy> policies);

  runtime::Task<StatusOr<schema::HostComputeNamespace>> createNamespace(schema::HostComputeNamespace n);
  runtime::Task<StatusOr<schema::HostComputeNamespace>> getNamespace(std::string id);
  runtime::Task<StatusOr<std::vector<schema::HostComputeNamespace>>> listNamespaces(Json filter);
  runtime::Task<Status> deleteNamespace(std::string id);
  runtime::Task<Status> attachEndpoint(std::string namespaceId, std::string endpointId);
  runtime::Task<Status> detachEndpoint(std::string namespaceId, std::string endpointId);

  runtime::Task<StatusOr<schema::HostComputeLoadBalancer>> createLoadBalancer(schema::HostComputeLoadBalancer lb);
  runtime::Task<StatusOr<schema::HostComputeLoadBalancer>> getLoadBalancer(std::string id);
  runtime::Task<StatusOr<std::vector<schema::HostComputeLoadBalancer>>> listLoadBalancers(Json filter);
  runtime::Task<Status> updateLoadBalancer(std::string id, schema::HostComputeLoadBalancer lb);
  runtime::Task<Status> deleteLoadBalancer(std::string id);

  runtime::Task<StatusOr<schema::HostComputeRoute>> createRoute(schema::HostComputeRoute r);
  runtime::Task<StatusOr<schema::HostComputeRoute>> getRoute(std::string id);
  runtime::Task<StatusOr<std::vector<schema::HostComputeRoute>>> listRoutes(Json filter);
  runtime::Task<Status> deleteRoute(std::string id);

  HnsApi& api() { return api_; }

 private:
  template <typename T>
  runtime::Task<StatusOr<T>> get(HcnObject type, std::string id);
  template <typename T>
  runtime::Task<StatusOr<std::vector<T>>> list(HcnObject type, Json filter);
  template <typename T>
  runtime::Task<StatusOr<T>> create(HcnObject type, std::string network, T doc);
  runtime::Task<Status> modify(HcnObject type, std::string id, std::string resourceType, std::string requestType,
                               Json settings);

  HnsApi& api_;
  std::optional<schema::HcnVersion> version_;
};

// A Status for an HCN response that is not the JSON it should be.
Status badResponse(const std::string& op, const Status& why);

}  // namespace hcsshim::hns
