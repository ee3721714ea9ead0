// hns_v1.h: the HNS v1 API (HNSCall: /networks, /endpoints, /policylists,
// /globals/version) with typed documents - what hcsshim's root package
// (HNSNetwork, HNSEndpoint, PolicyList) speaks.
//
//   hns::HnsV1Client v1(api);
//   schema::HnsNetwork n; n.name = "nat"; n.type = "NAT"; n.subnets = {{"10.0.0.0/24", "10.0.0.1", {}, {}}};
//   n.policies = {schema::encode(schema::VlanPolicy{.vlan = 5})};
//   HCS_CO_ASSIGN_OR_RETURN(auto created, co_await v1.createNetwork(n));
#pragma once

#include <string>
#include <vector>

#include "src/hns/hns_api.h"
#include "src/schema/hns.h"

namespace hcsshim::hns {

class HnsV1Client {
 public:
  explicit HnsV1Client(HnsApi& api) : api_(api) {}

  runtime::Task<StatusOr<schema::HcnVersion>> version();

  runtime::Task<StatusOr<schema::HnsNetwork>> createNetwork(schema::HnsNetwork n);
  runtime::Task<StatusOr<schema::HnsNetwork>> getNetwork(std::string id);
  runtime::Task<StatusOr<std::vector<schema::HnsNetwork>>> listNetworks();
  runtime::Task<Status> deleteNetwork(std::string id);

  runtime::Task<StatusOr<schema::HnsEndpoint>> createEndpoint(schema::HnsEndpoint e);
  runtime::Task<StatusOr<schema::HnsEndpoint>> getEndpoint(std::string id);
  runtime::Task<StatusOr<std::vector<schema::HnsEndpoint>>> listEndpoints();
  runtime::Task<Status> deleteEndpoint(std::string id);

  runtime::Task<StatusOr<schema::HnsPolicyList>> createPolicyList(schema::HnsPolicyList l);
  runtime::Task<StatusOr<schema::HnsPolicyList>> getPolicyList(std::string id);
  runtime::Task<StatusOr<std::vector<schema::HnsPolicyList>>> listPolicyLists();
  runtime::Task<Status> deletePolicyList(std::string id);

 private:
  template <typename T>
  runtime::Task<StatusOr<T>> call(std::string method, std::string path, std::string body);
  template <typename T>
  runtime::Task<StatusOr<T>> getAt(std::string kind, std::string id);
  runtime::Task<Status> deleteAt(std::string kind, std::string id);

  HnsApi& api_;
};

}  // namespace hcsshim::hns
