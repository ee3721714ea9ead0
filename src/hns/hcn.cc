#include "src/hns/hcn.h"

#include <algorithm>
#include <array>

#include "src/common/hresult.h"
#include "src/common/sha256.h"

namespace hcsshim::hns {

schema::HostComputeNetwork natNetwork(std::string name, std::string subnet, std::string gateway) {
  schema::HostComputeNetwork n;
  n.name = std::move(name);
  n.type = "NAT";
  schema::HcnSubnet sub;
  sub.ipAddressPrefix = std::move(subnet);
  if (!gateway.empty()) sub.routes.push_back({std::move(gateway), "0.0.0.0/0", {}, {}});
  n.ipams.push_back({"Static", {sub}, {}});
  return n;
}

std::string namespaceForNetns(std::string_view netnsPath) {
  auto d = sha256(std::string("hcsshim-cpp netns\n") + std::string(netnsPath));
  std::array<uint8_t, 16> b{};
  std::copy_n(d.begin(), 16, b.begin());
  // RFC 4122 version 5 (name-based, SHA) and variant bits, in the text's byte order.
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x50);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  std::string hex = "0123456789abcdef", out;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 15];
  }
  return out;
}


using namespace schema;
using runtime::Task;

bool supports(const HcnVersion& v, const Feature& f) {
  return v.major > f.major || (v.major == f.major && v.minor >= f.minor);
}

Status badResponse(const std::string& op, const Status& why) {
  return Status::withCode(Code::kInternal, hresult::kFail, op, "", "HNS answered with a bad document: " + why.message());
}

Task<StatusOr<HcnVersion>> HcnClient::version() {
  if (version_) co_return *version_;
  auto out = co_await api_.hnsCall("GET", "/globals/version", "");
  if (!out.ok()) co_return out.status();
  auto v = decode<HcnVersion>(std::string_view(*out));
  if (!v.ok()) co_return badResponse("GetHNSGlobals", v.status());
  version_ = *v;
  co_return *v;
}

Task<Status> HcnClient::require(Feature f, std::string op, std::string id) {
  auto v = co_await version();
  if (!v.ok()) co_return v.status();
  if (supports(*v, f)) co_return OkStatus();
  co_return Status::withCode(Code::kUnimplemented, hresult::kHcnRequestUnsupported, op, id,
                             "HNS " + std::to_string(v->major) + "." + std::to_string(v->minor) + " does not support " +
                                 f.name + " (needs " + std::to_string(f.major) + "." + std::to_string(f.minor) +
                                 " or later)");
}

namespace {

std::string queryFor(const Json& filter) {
  HostComputeQuery q;
  q.schemaVersion = HcnVersion{2, 0, {}};
  q.flags = 0;
  if (filter.is_object() && !filter.empty()) q.filter = filter.dump();
  return encode(q).dump();
}

bool isV6(const std::optional<std::string>& text) { return text && text->find(':') != std::string::npos; }

}  // namespace

template <typename T>
Task<StatusOr<T>> HcnClient::get(HcnObject type, std::string id) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, std::string("HcnOpen") + objectName(type), id));
  auto out = co_await api_.query(type, id, queryFor(Json()));
  if (!out.ok()) co_return out.status();
  auto d = decode<T>(std::string_view(*out));
  if (!d.ok()) co_return badResponse(std::string("HcnQuery") + objectName(type) + "Properties", d.status());
  co_return *d;
}

template <typename T>
Task<StatusOr<std::vector<T>>> HcnClient::list(HcnObject type, Json filter) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, std::string("HcnEnumerate") + objectName(type) + "s", ""));
  auto ids = co_await api_.enumerate(type, queryFor(filter));
  if (!ids.ok()) co_return ids.status();
  auto arr = decode<std::vector<std::string>>(std::string_view(*ids));
  if (!arr.ok()) co_return badResponse(std::string("HcnEnumerate") + objectName(type) + "s", arr.status());
  std::vector<T> out;
  for (const std::string& id : *arr) {
    auto one = co_await get<T>(type, id);
    if (!one.ok() && one.status().code() == Code::kNotFound) continue;  // deleted meanwhile
    if (!one.ok()) co_return one.status();
    out.push_back(std::move(*one));
  }
  co_return out;
}

template <typename T>
Task<StatusOr<T>> HcnClient::create(HcnObject type, std::string network, T doc) {
  std::string op = std::string("HcnCreate") + objectName(type);
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, op, doc.id.value_or("")));
  std::string id = doc.id.value_or("");
  std::string settings = encode(doc).dump();
  auto out = co_await api_.create(type, id, network, settings);
  if (!out.ok()) co_return out.status();
  auto d = decode<T>(std::string_view(*out));
  if (!d.ok()) co_return badResponse(op, d.status());
  co_return *d;
}

Task<Status> HcnClient::modify(HcnObject type, std::string id, std::string resourceType, std::string requestType,
                               Json settings) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, std::string("HcnModify") + objectName(type), id));
  HcnModifyRequest r;
  r.resourceType = resourceType;
  r.requestType = requestType;
  r.settings = std::move(settings);
  std::string doc = encode(r).dump();
  co_return co_await api_.modify(type, id, doc);
}

// ---------------------------------------------------------------- networks

Task<StatusOr<HostComputeNetwork>> HcnClient::createNetwork(HostComputeNetwork n) {
  for (auto& ipam : n.ipams) {
    for (auto& s : ipam.subnets) {
      if (isV6(s.ipAddressPrefix)) HCS_CO_RETURN_IF_ERROR(co_await require(kDualStack, "HcnCreateNetwork", n.id.value_or("")));
    }
  }
  for (auto& p : n.policies) {
    if (p.type == "SetPolicy") HCS_CO_RETURN_IF_ERROR(co_await require(kSetPolicy, "HcnCreateNetwork", n.id.value_or("")));
    if (p.type == "NetworkACL") HCS_CO_RETURN_IF_ERROR(co_await require(kNetworkAcl, "HcnCreateNetwork", n.id.value_or("")));
  }
  if (!n.schemaVersion) n.schemaVersion = HcnVersion{2, 0, {}};
  co_return co_await create<HostComputeNetwork>(HcnObject::kNetwork, "", std::move(n));
}
Task<StatusOr<HostComputeNetwork>> HcnClient::getNetwork(std::string id) {
  co_return co_await get<HostComputeNetwork>(HcnObject::kNetwork, std::move(id));
}
Task<StatusOr<std::vector<HostComputeNetwork>>> HcnClient::listNetworks(Json filter) {
  co_return co_await list<HostComputeNetwork>(HcnObject::kNetwork, std::move(filter));
}
Task<Status> HcnClient::deleteNetwork(std::string id) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, "HcnDeleteNetwork", id));
  co_return co_await api_.remove(HcnObject::kNetwork, id);
}
Task<Status> HcnClient::modifyNetworkPolicies(std::string id, std::string requestType, std::vector<HcnPolicy> policies) {
  for (auto& p : policies) {
    if (p.type == "SetPolicy") HCS_CO_RETURN_IF_ERROR(co_await require(kSetPolicy, "HcnModifyNetwork", id));
    if (p.type == "NetworkACL") HCS_CO_RETURN_IF_ERROR(co_await require(kNetworkAcl, "HcnModifyNetwork", id));
  }
  PolicyRequest pr;
  pr.policies = std::move(policies);
  Json settings = encode(pr);
  co_return co_await modify(HcnObject::kNetwork, id, "Policy", requestType, settings);
}

// ---------------------------------------------------------------- endpoints

namespace {

Feature endpointPolicyFeature(const std::string& type) {
  if (type == endpointpolicy::kTierAcl) return kTierAcl;
  if (type == endpointpolicy::kIov) return kAccelnet;
  return kV2Api;
}

}  // namespace

Task<StatusOr<HostComputeEndpoint>> HcnClient::createEndpoint(std::string networkId, HostComputeEndpoint e) {
  for (auto& ip : e.ipConfigurations) {
    if (isV6(ip.ipAddress)) HCS_CO_RETURN_IF_ERROR(co_await require(kDualStack, "HcnCreateEndpoint", e.id.value_or("")));
  }
  for (auto& p : e.policies) {
    HCS_CO_RETURN_IF_ERROR(co_await require(endpointPolicyFeature(p.type), "HcnCreateEndpoint", e.id.value_or("")));
  }
  e.hostComputeNetwork = networkId;
  if (!e.schemaVersion) e.schemaVersion = HcnVersion{2, 0, {}};
  co_return co_await create<HostComputeEndpoint>(HcnObject::kEndpoint, networkId, std::move(e));
}
Task<StatusOr<HostComputeEndpoint>> HcnClient::getEndpoint(std::string id) {
  co_return co_await get<HostComputeEndpoint>(HcnObject::kEndpoint, std::move(id));
}
Task<StatusOr<std::vector<HostComputeEndpoint>>> HcnClient::listEndpoints(Json filter) {
  co_return co_await list<HostComputeEndpoint>(HcnObject::kEndpoint, std::move(filter));
}
Task<Status> HcnClient::deleteEndpoint(std::string id) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, "HcnDeleteEndpoint", id));
  co_return co_await api_.remove(HcnObject::kEndpoint, id);
}
Task<Status> HcnClient::modifyEndpointPolicies(std::string id, std::string requestType, std::vector<HcnPolicy> policies) {
  for (auto& p : policies) HCS_CO_RETURN_IF_ERROR(co_await require(endpointPolicyFeature(p.type), "HcnModifyEndpoint", id));
  PolicyRequest pr;
  pr.policies = std::move(policies);
  Json settings = encode(pr);
  co_return co_await modify(HcnObject::kEndpoint, id, "Policy", requestType, settings);
}

// ---------------------------------------------------------------- namespaces

Task<StatusOr<HostComputeNamespace>> HcnClient::createNamespace(HostComputeNamespace n) {
  if (!n.schemaVersion) n.schemaVersion = HcnVersion{2, 0, {}};
  co_return co_await create<HostComputeNamespace>(HcnObject::kNamespace, "", std::move(n));
}
Task<StatusOr<HostComputeNamespace>> HcnClient::getNamespace(std::string id) {
  co_return co_await get<HostComputeNamespace>(HcnObject::kNamespace, std::move(id));
}
Task<StatusOr<std::vector<HostComputeNamespace>>> HcnClient::listNamespaces(Json filter) {
  co_return co_await list<HostComputeNamespace>(HcnObject::kNamespace, std::move(filter));
}
Task<Status> HcnClient::deleteNamespace(std::string id) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, "HcnDeleteNamespace", id));
  co_return co_await api_.remove(HcnObject::kNamespace, id);
}
Task<Status> HcnClient::attachEndpoint(std::string namespaceId, std::string endpointId) {
  Json settings = Json::object();
  settings["EndpointId"] = endpointId;
  co_return co_await modify(HcnObject::kNamespace, namespaceId, "Endpoint", "Add", settings);
}
Task<Status> HcnClient::detachEndpoint(std::string namespaceId, std::string endpointId) {
  Json settings = Json::object();
  settings["EndpointId"] = endpointId;
  co_return co_await modify(HcnObject::kNamespace, namespaceId, "Endpoint", "Remove", settings);
}

// ---------------------------------------------------------------- load balancers

namespace {

Task<Status> checkLoadBalancerFeatures(HcnClient& c, const HostComputeLoadBalancer& lb, std::string op) {
  std::string id = lb.id.value_or("");
  if (lb.flags && (*lb.flags & kLoadBalancerFlagsDsr)) HCS_CO_RETURN_IF_ERROR(co_await c.require(kDsr, op, id));
  for (auto& pm : lb.portMappings) {
    if (pm.distributionType && *pm.distributionType != 0) HCS_CO_RETURN_IF_ERROR(co_await c.require(kSessionAffinity, op, id));
  }
  for (auto& vip : lb.frontendVips) {
    if (vip.find(':') != std::string::npos) HCS_CO_RETURN_IF_ERROR(co_await c.require(kDualStack, op, id));
  }
  co_return OkStatus();
}

}  // namespace

Task<StatusOr<HostComputeLoadBalancer>> HcnClient::createLoadBalancer(HostComputeLoadBalancer lb) {
  HCS_CO_RETURN_IF_ERROR(co_await checkLoadBalancerFeatures(*this, lb, "HcnCreateLoadBalancer"));
  if (!lb.schemaVersion) lb.schemaVersion = HcnVersion{2, 0, {}};
  co_return co_await create<HostComputeLoadBalancer>(HcnObject::kLoadBalancer, "", std::move(lb));
}
Task<StatusOr<HostComputeLoadBalancer>> HcnClient::getLoadBalancer(std::string id) {
  co_return co_await get<HostComputeLoadBalancer>(HcnObject::kLoadBalancer, std::move(id));
}
Task<StatusOr<std::vector<HostComputeLoadBalancer>>> HcnClient::listLoadBalancers(Json filter) {
  co_return co_await list<HostComputeLoadBalancer>(HcnObject::kLoadBalancer, std::move(filter));
}
Task<Status> HcnClient::updateLoadBalancer(std::string id, HostComputeLoadBalancer lb) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kModifyLoadBalancer, "HcnModifyLoadBalancer", id));
  HCS_CO_RETURN_IF_ERROR(co_await checkLoadBalancerFeatures(*this, lb, "HcnModifyLoadBalancer"));
  Json settings = encode(lb);
  co_return co_await modify(HcnObject::kLoadBalancer, id, "LoadBalancer", "Update", settings);
}
Task<Status> HcnClient::deleteLoadBalancer(std::string id) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, "HcnDeleteLoadBalancer", id));
  co_return co_await api_.remove(HcnObject::kLoadBalancer, id);
}

// ---------------------------------------------------------------- routes

Task<StatusOr<HostComputeRoute>> HcnClient::createRoute(HostComputeRoute r) {
  if (!r.schemaVersion) r.schemaVersion = HcnVersion{2, 0, {}};
  co_return co_await create<HostComputeRoute>(HcnObject::kRoute, "", std::move(r));
}
Task<StatusOr<HostComputeRoute>> HcnClient::getRoute(std::string id) {
  co_return co_await get<HostComputeRoute>(HcnObject::kRoute, std::move(id));
}
Task<StatusOr<std::vector<HostComputeRoute>>> HcnClient::listRoutes(Json filter) {
  co_return co_await list<HostComputeRoute>(HcnObject::kRoute, std::move(filter));
}
Task<Status> HcnClient::deleteRoute(std::string id) {
  HCS_CO_RETURN_IF_ERROR(co_await require(kV2Api, "HcnDeleteSdnRoute", id));
  co_return co_await api_.remove(HcnObject::kRoute, id);
}

}  // namespace hcsshim::hns
