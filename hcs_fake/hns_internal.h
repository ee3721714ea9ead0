// hns_internal.h: the fake HNS's records and state, shared by hns.cc (HCN
// v2: networks, endpoints, namespaces, load balancers, routes; IPAM and MAC
// pools; persistence) and hns_v1.cc (the v1 HNSCall API over the same
// objects). Internal to hcs_fake/hns*.cc.
#pragma once


#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/common/guid.h"
#include "src/common/hresult.h"
#include "src/common/log.h"

#include <map>
#include <set>

#include "hcs_fake/hns.h"

namespace hcsshim::hcs_fake {

using hns::HcnObject;
using namespace schema;
using runtime::Task;

namespace hnsfake {


inline constexpr uint64_t kDefaultMacStart = 0x00155D520000ULL;
inline constexpr uint64_t kDefaultMacEnd = 0x00155D52FFFFULL;

inline Status err(HResult hr, const std::string& op, const std::string& id, const std::string& message) {
  return Status::fromHResult(hr, op, id, message);
}

inline const std::set<std::string> kEndpointPolicyTypes = {
    endpointpolicy::kPortMapping, endpointpolicy::kAcl,        endpointpolicy::kQos,
    endpointpolicy::kL2Driver,    endpointpolicy::kOutBoundNat, endpointpolicy::kSdnRoute,
    endpointpolicy::kL4Proxy,     endpointpolicy::kL4WfpProxy, endpointpolicy::kPortName,
    endpointpolicy::kEncapOverhead, endpointpolicy::kProviderAddress, endpointpolicy::kInterfaceConstraint,
    endpointpolicy::kIov,         endpointpolicy::kTierAcl};
inline const std::set<std::string> kNetworkPolicyTypes = {
    "SourceMacAddress", "NetAdapterName", "VSwitchExtension", "DrMacAddress",   "AutomaticDNS",
    "InterfaceConstraint", "ProviderAddress", "RemoteSubnetRoute", "HostRoute", "SetPolicy",
    "NetworkL4Proxy",   "LayerConstraint", "NetworkACL"};

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// IP arithmetic on the low 64 bits (enough for IPv4 and IPv6 host parts).
inline IpAddress addToIp(IpAddress a, uint64_t n) {
  int last = a.v6 ? 15 : 3;
  for (int i = last; i >= 0 && n; --i) {
    uint64_t sum = a.bytes[i] + (n & 0xff);
    a.bytes[i] = static_cast<uint8_t>(sum);
    n = (n >> 8) + (sum >> 8);
  }
  return a;
}

// SubnetPool: a subnet's addresses as offsets from its network address.
// Allocation hands out the lowest released offset first, else the next never
// used one (O(log n) either way, however many endpoints exist).
struct SubnetPool {
  std::string text;
  IpPrefix prefix;
  std::optional<IpAddress> gateway;
  std::set<uint64_t> used;
  std::set<uint64_t> freed;  // released offsets below `next`
  uint64_t next = 1;         // offset 0 is the network address

  uint64_t size() const {
    int hostBits = (prefix.address.v6 ? 128 : 32) - prefix.length;
    return hostBits >= 63 ? (1ULL << 62) : (1ULL << hostBits);
  }
  // offset: a's offset in the subnet (the low 64 bits; host parts are never wider here).
  uint64_t offset(const IpAddress& a) const {
    int last = a.v6 ? 15 : 3;
    uint64_t x = 0, base = 0;
    for (int i = std::max(0, last - 7); i <= last; ++i) {
      x = x << 8 | a.bytes[i];
      base = base << 8 | prefix.address.bytes[i];
    }
    return x - base;
  }
  bool reserved(uint64_t o) const { return o == 0 || o + 1 >= size() || (gateway && offset(*gateway) == o); }
  bool taken(const IpAddress& a) const { return used.count(offset(a)) || reserved(offset(a)); }
  void claim(const IpAddress& a) {
    used.insert(offset(a));
    freed.erase(offset(a));
  }
  std::optional<IpAddress> allocate() {
    while (!freed.empty()) {
      uint64_t o = *freed.begin();
      freed.erase(freed.begin());
      if (!used.count(o) && !reserved(o)) {
        used.insert(o);
        return addToIp(prefix.address, o);
      }
    }
    for (; next + 1 < size(); ++next) {
      if (used.count(next) || reserved(next)) continue;
      used.insert(next);
      return addToIp(prefix.address, next++);
    }
    return std::nullopt;
  }
  void release(const std::string& text) {
    auto a = parseIp(text);
    if (!a.ok() || a->v6 != prefix.address.v6 || !prefix.contains(*a)) return;
    uint64_t o = offset(*a);
    if (used.erase(o) && o < next) freed.insert(o);
  }
};

struct NetworkRec {
  HostComputeNetwork doc;
  std::vector<Json> v1Policies;
  std::vector<SubnetPool> pools;
  std::vector<std::pair<uint64_t, uint64_t>> macRanges;
  std::set<std::string> endpoints;
  std::set<std::string> ports;  // "proto/port/vip" claimed by endpoints
};

struct EndpointRec {
  HostComputeEndpoint doc;
  std::vector<Json> v1Policies;
  std::vector<std::string> ports;  // claims in its network
  std::string ip;                  // allocated from the network's pools
  uint64_t mac = 0;
};

struct NamespaceRec {
  HostComputeNamespace doc;
  std::vector<std::string> endpoints;
  std::vector<std::string> containers;
};

struct LbRec {
  HostComputeLoadBalancer doc;
  std::vector<std::string> ports;  // "proto/port/vip" claimed globally
};

}  // namespace hnsfake

using namespace hnsfake;

struct FakeHns::State {
  std::map<std::string, NetworkRec> networks;
  std::map<std::string, EndpointRec> endpoints;
  std::map<std::string, NamespaceRec> namespaces;
  std::map<std::string, LbRec> lbs;
  std::map<std::string, HostComputeRoute> routes;
  std::map<std::string, HnsPolicyList> policyLists;
  std::set<uint64_t> macsUsed;
  std::set<std::string> lbPorts;
  uint32_t nextCompartment = 2;
  // Default id source (no options.newId): a counter whose reservation is
  // persisted, so ids are never reused after a restart.
  uint64_t nextId = 1;
  uint64_t reservedId = 1;
};

namespace hnsfake {

template <typename T>
StatusOr<T> parseDoc(const std::string& text, const std::string& op, const std::string& id) {
  auto j = parseJson(text.empty() ? "{}" : text);
  if (!j.ok()) return err(hresult::kHcnInvalidJson, op, id, "invalid JSON: " + j.status().message());
  auto d = decode<T>(*j);
  if (!d.ok()) return err(hresult::kHcnInvalidJson, op, id, d.status().message());
  return d;
}

// v1PortClaim: a v1 endpoint NAT policy's port claim ("" if none).
std::string v1PortClaim(const Json& policy);

// Ctx: what id choice and allocation need.
struct Ctx {
  FakeHns::State& s;
  const FakeHnsOptions& o;
};
// chooseId: the id of a new object (requested, the document's, or fresh);
// HCN_E_..._ALREADY_EXISTS if taken.
StatusOr<std::string> chooseId(Ctx c, const std::string& requested, const std::string& docId, const std::string& op,
                               bool exists);

// saveNetworks writes the networks (and the id reservation) to the state file.
void saveNetworks(const FakeHnsOptions& o, const FakeHns::State& s);

}  // namespace hnsfake

}  // namespace hcsshim::hcs_fake
