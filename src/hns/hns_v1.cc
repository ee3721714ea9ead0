#include "src/hns/hns_v1.h"

#include "src/hns/hcn.h"

namespace hcsshim::hns {

using namespace schema;
using runtime::Task;

template <typename T>
Task<StatusOr<T>> HnsV1Client::call(std::string method, std::string path, std::string body) {
  auto out = co_await api_.hnsCall(method, path, body);
  if (!out.ok()) co_return out.status();
  auto d = decode<T>(std::string_view(*out));
  if (!d.ok()) co_return badResponse("HNSCall " + method + " " + path, d.status());
  co_return *d;
}

namespace {
// Ids go into a URL path: refuse anything that would change the path.
Status checkId(const std::string& id) {
  if (id.empty() || id.find_first_of("/?#") != std::string::npos || id == "." || id == "..") {
    return InvalidArgumentError("\"" + id + "\" is not an HNS object id");
  }
  return OkStatus();
}
}  // namespace

template <typename T>
Task<StatusOr<T>> HnsV1Client::getAt(std::string kind, std::string id) {
  HCS_CO_RETURN_IF_ERROR(checkId(id));
  co_return co_await call<T>("GET", "/" + kind + "/" + id, "");
}

Task<Status> HnsV1Client::deleteAt(std::string kind, std::string id) {
  HCS_CO_RETURN_IF_ERROR(checkId(id));
  co_return (co_await api_.hnsCall("DELETE", "/" + kind + "/" + id, "")).status();
}

Task<StatusOr<HcnVersion>> HnsV1Client::version() { co_return co_await call<HcnVersion>("GET", "/globals/version", ""); }

Task<StatusOr<HnsNetwork>> HnsV1Client::createNetwork(HnsNetwork n) {
  co_return co_await call<HnsNetwork>("POST", "/networks/", encode(n).dump());
}
Task<StatusOr<HnsNetwork>> HnsV1Client::getNetwork(std::string id) { co_return co_await getAt<HnsNetwork>("networks", id); }
Task<StatusOr<std::vector<HnsNetwork>>> HnsV1Client::listNetworks() {
  co_return co_await call<std::vector<HnsNetwork>>("GET", "/networks/", "");
}
Task<Status> HnsV1Client::deleteNetwork(std::string id) { co_return co_await deleteAt("networks", id); }

Task<StatusOr<HnsEndpoint>> HnsV1Client::createEndpoint(HnsEndpoint e) {
  co_return co_await call<HnsEndpoint>("POST", "/endpoints/", encode(e).dump());
}
Task<StatusOr<HnsEndpoint>> HnsV1Client::getEndpoint(std::string id) { co_return co_await getAt<HnsEndpoint>("endpoints", id); }
Task<StatusOr<std::vector<HnsEndpoint>>> HnsV1Client::listEndpoints() {
  co_return co_await call<std::vector<HnsEndpoint>>("GET", "/endpoints/", "");
}
Task<Status> HnsV1Client::deleteEndpoint(std::string id) { co_return co_await deleteAt("endpoints", id); }

Task<StatusOr<HnsPolicyList>> HnsV1Client::createPolicyList(HnsPolicyList l) {
  co_return co_await call<HnsPolicyList>("POST", "/policylists/", encode(l).dump());
}
Task<StatusOr<HnsPolicyList>> HnsV1Client::getPolicyList(std::string id) {
  co_return co_await getAt<HnsPolicyList>("policylists", id);
}
Task<StatusOr<std::vector<HnsPolicyList>>> HnsV1Client::listPolicyLists() {
  co_return co_await call<std::vector<HnsPolicyList>>("GET", "/policylists/", "");
}
Task<Status> HnsV1Client::deletePolicyList(std::string id) { co_return co_await deleteAt("policylists", id); }

}  // namespace hcsshim::hns
