// hns_v1.cc: the v1 HNS API (HNSCall: HNSNetwork, HNSEndpoint, policy lists)
// over the same objects as HCN v2.
#include "hcs_fake/hns_internal.h"

namespace hcsshim::hcs_fake {

// ------------------------------------------------------------- v1 (HNSCall)

namespace {

Json v1Network(const NetworkRec& n) {
  HnsNetwork v;
  v.id = n.doc.id;
  v.name = n.doc.name;
  v.type = n.doc.type;
  v.policies = n.v1Policies;
  if (n.doc.macPool) {
    for (auto& r : n.doc.macPool->ranges) v.macPools.push_back({r.startMacAddress, r.endMacAddress, {}});
  }
  for (auto& p : n.pools) v.subnets.push_back({p.text, p.gateway ? std::optional(p.gateway->toString()) : std::nullopt, {}, {}});
  if (n.doc.dns) {
    v.dnsSuffix = n.doc.dns->suffix;
    std::string list;
    for (auto& s : n.doc.dns->serverList) list += (list.empty() ? "" : ",") + s;
    if (!list.empty()) v.dnsServerList = list;
  }
  return encode(v);
}

}  // namespace

StatusOr<std::string> FakeHns::hnsCall(const std::string& method, const std::string& path, const std::string& request) {
  const std::string op = "HNSCall " + method + " " + path;
  auto segs = [&] {
    std::vector<std::string> out;
    std::stringstream ss(path);
    std::string seg;
    while (std::getline(ss, seg, '/')) if (!seg.empty()) out.push_back(seg);
    return out;
  }();
  if (segs.empty()) return err(hresult::kHcnRequestUnsupported, op, "", "no such HNS resource");
  const std::string& kind = segs[0];
  std::string id = segs.size() > 1 ? lower(segs[1]) : "";
  if (segs.size() > 2) return err(hresult::kHcnRequestUnsupported, op, id, "no such HNS resource");
  if (kind == "globals" && id == "version" && method == "GET") return encode(options_.version).dump();
  if (kind == "networks") {
    if (method == "GET" && id.empty()) {
      Json all = Json::array();
      for (auto& [nid, n] : s_->networks) all.push_back(v1Network(n));
      return all.dump();
    }
    if (method == "GET") {
      auto it = s_->networks.find(id);
      if (it == s_->networks.end()) return err(hresult::kElementNotFound, op, id, "network " + id + " not found");
      return v1Network(it->second).dump();
    }
    if (method == "DELETE") {
      Status st = remove(HcnObject::kNetwork, id);
      if (!st.ok()) return st;
      return std::string("{}");
    }
    if (method == "POST" && id.empty()) {
      HCS_ASSIGN_OR_RETURN(auto v, parseDoc<HnsNetwork>(request, op, ""));
      std::vector<Json> policies;
      for (size_t i = 0; i < v.policies.size(); ++i) {
        auto p = validateV1Policy(v.policies[i], "Policies[" + std::to_string(i) + "]");
        if (!p.ok()) return err(hresult::kHcnInvalidPolicy, op, "", p.status().message());
        policies.push_back(*p);
      }
      HostComputeNetwork n;
      n.id = v.id;
      n.name = v.name;
      n.type = v.type;
      if (!v.subnets.empty()) {
        HcnIpam ipam;
        ipam.type = "Static";
        for (auto& s : v.subnets) {
          HcnSubnet sub;
          sub.ipAddressPrefix = s.addressPrefix;
          if (s.gatewayAddress) {
            auto pfx = s.addressPrefix ? parsePrefix(*s.addressPrefix) : StatusOr<IpPrefix>(InvalidArgumentError(""));
            sub.routes.push_back({s.gatewayAddress, pfx.ok() && pfx->address.v6 ? "::/0" : "0.0.0.0/0", {}, {}});
          }
          ipam.subnets.push_back(sub);
        }
        n.ipams.push_back(ipam);
      }
      if (!v.macPools.empty()) {
        n.macPool = HcnMacPool{};
        for (auto& m : v.macPools) n.macPool->ranges.push_back({m.startMacAddress, m.endMacAddress, {}});
      }
      if (v.dnsSuffix || v.dnsServerList) {
        n.dns = HcnDns{};
        n.dns->suffix = v.dnsSuffix;
        std::stringstream ss(v.dnsServerList.value_or(""));
        std::string server;
        while (std::getline(ss, server, ',')) if (!server.empty()) n.dns->serverList.push_back(server);
      }
      HCS_ASSIGN_OR_RETURN(std::string created, create(HcnObject::kNetwork, "", "", encode(n).dump()));
      std::string nid = *parseJson(created)->find("ID")->get_ptr<const std::string*>();
      s_->networks[nid].v1Policies = policies;
      saveNetworks(options_, *s_);
      return v1Network(s_->networks[nid]).dump();
    }
  }
  if (kind == "endpoints") {
    auto view = [&](const EndpointRec& e) {
      HnsEndpoint v;
      v.id = e.doc.id;
      v.name = e.doc.name;
      v.virtualNetwork = e.doc.hostComputeNetwork;
      auto& net = s_->networks.at(*e.doc.hostComputeNetwork);
      v.virtualNetworkName = net.doc.name;
      v.policies = e.v1Policies;
      v.macAddress = e.doc.macAddress;
      if (!e.ip.empty()) v.ipAddress = e.ip;
      if (!e.doc.ipConfigurations.empty()) v.prefixLength = e.doc.ipConfigurations[0].prefixLength;
      for (auto& r : e.doc.routes) if (r.nextHop) v.gatewayAddress = r.nextHop;
      v.namespaceId = e.doc.hostComputeNamespace;
      return encode(v);
    };
    if (method == "GET" && id.empty()) {
      Json all = Json::array();
      for (auto& [eid, e] : s_->endpoints) all.push_back(view(e));
      return all.dump();
    }
    if (method == "GET") {
      auto it = s_->endpoints.find(id);
      if (it == s_->endpoints.end()) return err(hresult::kElementNotFound, op, id, "endpoint " + id + " not found");
      return view(it->second).dump();
    }
    if (method == "DELETE") {
      Status st = remove(HcnObject::kEndpoint, id);
      if (!st.ok()) return st;
      return std::string("{}");
    }
    if (method == "POST" && id.empty()) {
      HCS_ASSIGN_OR_RETURN(auto v, parseDoc<HnsEndpoint>(request, op, ""));
      std::string netId = lower(v.virtualNetwork.value_or(""));
      if (netId.empty() && v.virtualNetworkName) {
        for (auto& [nid, n] : s_->networks) if (n.doc.name == v.virtualNetworkName) netId = nid;
      }
      auto nit = s_->networks.find(netId);
      if (nit == s_->networks.end()) return err(hresult::kElementNotFound, op, "", "network \"" + netId + "\" not found");
      std::vector<Json> policies;
      std::vector<std::string> claims;
      for (size_t i = 0; i < v.policies.size(); ++i) {
        auto p = validateV1Policy(v.policies[i], "Policies[" + std::to_string(i) + "]");
        if (!p.ok()) return err(hresult::kHcnInvalidPolicy, op, "", p.status().message());
        std::string claim = v1PortClaim(*p);
        if (!claim.empty()) {
          if (nit->second.ports.count(claim) || std::find(claims.begin(), claims.end(), claim) != claims.end()) {
            return err(hresult::kHcnPortAlreadyExists, op, "", "port mapping " + claim + " already exists on network " + netId);
          }
          claims.push_back(claim);
        }
        policies.push_back(*p);
      }
      HostComputeEndpoint e;
      e.id = v.id;
      e.name = v.name;
      e.macAddress = v.macAddress;
      if (v.ipAddress) e.ipConfigurations.push_back({v.ipAddress, v.prefixLength, {}});
      HCS_ASSIGN_OR_RETURN(std::string created, create(HcnObject::kEndpoint, "", netId, encode(e).dump()));
      std::string eid = *parseJson(created)->find("ID")->get_ptr<const std::string*>();
      auto& rec = s_->endpoints[eid];
      rec.v1Policies = policies;
      for (auto& claim : claims) {
        rec.ports.push_back(claim);
        nit->second.ports.insert(claim);
      }
      return view(rec).dump();
    }
  }
  if (kind == "policylists") {
    if (method == "GET" && id.empty()) {
      Json all = Json::array();
      for (auto& [pid, pl] : s_->policyLists) all.push_back(encode(pl));
      return all.dump();
    }
    if (method == "GET") {
      auto it = s_->policyLists.find(id);
      if (it == s_->policyLists.end()) return err(hresult::kElementNotFound, op, id, "policy list " + id + " not found");
      return encode(it->second).dump();
    }
    if (method == "DELETE") {
      if (!s_->policyLists.erase(id)) return err(hresult::kElementNotFound, op, id, "policy list " + id + " not found");
      return std::string("{}");
    }
    if (method == "POST" && id.empty()) {
      HCS_ASSIGN_OR_RETURN(auto pl, parseDoc<HnsPolicyList>(request, op, ""));
      Ctx c{*s_, options_};
      HCS_ASSIGN_OR_RETURN(std::string pid, chooseId(c, "", pl.id.value_or(""), op, s_->policyLists.count(lower(pl.id.value_or(""))) > 0));
      pl.id = pid;
      for (auto& ref : pl.endpointReferences) {
        std::string e = lower(ref);
        if (e.rfind("/endpoints/", 0) != 0 || !s_->endpoints.count(e.substr(11))) {
          return err(hresult::kElementNotFound, op, pid, "References: \"" + ref + "\" is not an existing /endpoints/<id>");
        }
      }
      for (size_t i = 0; i < pl.policies.size(); ++i) {
        auto p = validateV1Policy(pl.policies[i], "Policies[" + std::to_string(i) + "]");
        if (!p.ok()) return err(hresult::kHcnInvalidPolicy, op, pid, p.status().message());
        std::string t = (*p)["Type"];
        if (t != v1policy::kElb && t != v1policy::kRoute) {
          return err(hresult::kHcnInvalidPolicyType, op, pid, "Policies[" + std::to_string(i) + "].Type: a policy list holds ELB or ROUTE policies, not " + t);
        }
        if (t == v1policy::kElb) {
          for (auto& [oid, other] : s_->policyLists) {
            for (auto& q : other.policies) {
              if (q.value("Type", "") == v1policy::kElb && q.value("ExternalPort", 0) == (*p)["ExternalPort"] &&
                  q.value("Protocol", 0) == p->value("Protocol", 0) && q.value("VIPs", Json::array()) == p->value("VIPs", Json::array())) {
                return err(hresult::kHcnPortAlreadyExists, op, pid, "ELB frontend port " + std::to_string((*p)["ExternalPort"].get<int>()) + " already exists in policy list " + oid);
              }
            }
          }
        }
        pl.policies[i] = *p;
      }
      s_->policyLists[pid] = pl;
      return encode(pl).dump();
    }
  }
  return err(hresult::kHcnRequestUnsupported, op, id, "HNS v1 does not support " + method + " " + path);
}

}  // namespace hcsshim::hcs_fake
