#include "hcs_fake/hns_internal.h"

namespace hcsshim::hcs_fake {


namespace hnsfake {


Status validateIpList(const std::vector<std::string>& ips, const std::string& field, const std::string& op,
                      const std::string& id) {
  for (auto& ip : ips) {
    if (!parseIp(ip).ok()) return err(hresult::kHcnInvalidIp, op, id, field + ": \"" + ip + "\" is not an IP address");
  }
  return OkStatus();
}

// validateEndpointPolicy checks a v2 endpoint policy's settings; the port
// claim ("proto/port/vip") of a PortMapping in *port.
Status validateEndpointPolicy(const HcnPolicy& p, const std::string& path, const std::string& op, const std::string& id,
                              std::string* port) {
  if (!kEndpointPolicyTypes.count(p.type)) {
    return err(hresult::kHcnInvalidPolicyType, op, id, path + ".Type: unknown endpoint policy type \"" + p.type + "\"");
  }
  Json settings = p.settings.is_null() ? Json::object() : p.settings;
  if (!settings.is_object()) return err(hresult::kHcnInvalidPolicy, op, id, path + ".Settings: want an object");
  auto bad = [&](const Status& s) { return err(hresult::kHcnInvalidPolicy, op, id, s.message()); };
  const std::string sp = path + ".Settings";
  if (p.type == endpointpolicy::kPortMapping) {
    auto s = decode<PortMappingPolicySetting>(settings, sp);
    if (!s.ok()) return bad(s.status());
    uint32_t proto = s->protocol.value_or(6);
    if (proto != 6 && proto != 17) return bad(InvalidArgumentError(sp + ".Protocol: want 6 (TCP) or 17 (UDP), got " + std::to_string(proto)));
    if (!s->externalPort || *s->externalPort == 0) return bad(InvalidArgumentError(sp + ".ExternalPort: required"));
    if (s->vip && !parseIp(*s->vip).ok()) return err(hresult::kHcnInvalidIp, op, id, sp + ".VIP: \"" + *s->vip + "\" is not an IP address");
    if (port) *port = std::to_string(proto) + "/" + std::to_string(*s->externalPort) + "/" + s->vip.value_or("");
  } else if (p.type == endpointpolicy::kAcl || p.type == endpointpolicy::kTierAcl) {
    auto s = decode<AclPolicySetting>(settings, sp);
    if (!s.ok()) return bad(s.status());
    Status values = checkAclValues(sp, s->action, s->direction, s->ruleType);
    if (!values.ok()) return bad(values);
  } else if (p.type == endpointpolicy::kQos) {
    auto s = decode<QosPolicySetting>(settings, sp);
    if (!s.ok()) return bad(s.status());
  } else if (p.type == endpointpolicy::kOutBoundNat) {
    auto s = decode<OutboundNatPolicySetting>(settings, sp);
    if (!s.ok()) return bad(s.status());
    if (s->virtualIp && !parseIp(*s->virtualIp).ok()) {
      return err(hresult::kHcnInvalidIp, op, id, sp + ".VirtualIP: \"" + *s->virtualIp + "\" is not an IP address");
    }
  } else if (p.type == endpointpolicy::kSdnRoute) {
    auto s = decode<SdnRoutePolicySetting>(settings, sp);
    if (!s.ok()) return bad(s.status());
    if (s->destinationPrefix && !parsePrefix(*s->destinationPrefix).ok()) {
      return err(hresult::kHcnInvalidPrefix, op, id, sp + ".DestinationPrefix: \"" + *s->destinationPrefix + "\" is not a prefix");
    }
    if (s->nextHop && !parseIp(*s->nextHop).ok()) {
      return err(hresult::kHcnInvalidIp, op, id, sp + ".NextHop: \"" + *s->nextHop + "\" is not an IP address");
    }
  } else if (p.type == endpointpolicy::kProviderAddress) {
    auto pa = settings.find("ProviderAddress");
    if (pa != settings.end() && (!pa->is_string() || !parseIp(pa->get<std::string>()).ok())) {
      return err(hresult::kHcnInvalidIp, op, id, sp + ".ProviderAddress: not an IP address");
    }
  }
  return OkStatus();
}

// A v1 endpoint NAT policy's port claim.
std::string v1PortClaim(const Json& policy) {
  if (policy.value("Type", "") != v1policy::kNat || !policy.contains("ExternalPort")) return "";
  std::string proto = lower(policy.value("Protocol", "tcp")) == "udp" ? "17" : "6";
  return proto + "/" + std::to_string(policy["ExternalPort"].get<int>()) + "/";
}

bool matchesFilter(const Json& props, const Json& filter) {
  for (auto it = filter.begin(); it != filter.end(); ++it) {
    std::string key = it.key();
    if (key == "VirtualNetwork") key = "HostComputeNetwork";  // hcsshim's endpoint-of-network filter
    auto p = props.find(key);
    if (p == props.end()) return false;
    if (p->is_string() && it->is_string()) {
      if (lower(p->get<std::string>()) != lower(it->get<std::string>())) return false;
    } else if (*p != *it) {
      return false;
    }
  }
  return true;
}

}  // namespace hnsfake

FakeHns::FakeHns(FakeHnsOptions options) : options_(std::move(options)), s_(std::make_unique<State>()) {
  if (options_.statePath.empty()) return;
  std::ifstream in(options_.statePath);
  if (!in) return;
  std::stringstream text;
  text << in.rdbuf();
  auto j = parseJson(text.str());
  std::vector<Json> saved;
  if (j.ok() && j->is_object() && (*j)["Networks"].is_array()) saved = (*j)["Networks"].get<std::vector<Json>>();
  if (j.ok() && j->is_object() && (*j)["NextId"].is_number_unsigned()) {
    s_->nextId = s_->reservedId = (*j)["NextId"].get<uint64_t>();
  }
  if (!j.ok() || !j->is_object()) {
    // Keep what cannot be read, and start empty.
    std::string aside = options_.statePath + ".corrupt";
    std::error_code ec;
    std::filesystem::rename(options_.statePath, aside, ec);
    HLOG(Warn, "hns.state_unreadable").kv("path", options_.statePath).kv("kept_as", aside);
    return;
  }
  for (auto& n : saved) {
    Json v1 = n.contains("V1Policies") ? n["V1Policies"] : Json::array();
    n.erase("V1Policies");
    std::string id = n.value("ID", "");
    auto created = create(HcnObject::kNetwork, id, "", n.dump());
    if (!created.ok()) {
      HLOG(Warn, "hns.state_network_skipped").kv("network", id).kv("error", created.status().toString());
      continue;
    }
    if (v1.is_array()) s_->networks[id].v1Policies = v1.get<std::vector<Json>>();
  }
  HLOG(Info, "hns.state_loaded").kv("path", options_.statePath).kv("networks", s_->networks.size());
}

FakeHns::~FakeHns() = default;


// ------------------------------------------------------------- properties

namespace {

Json namespaceProps(const NamespaceRec& n) {
  HostComputeNamespace d = n.doc;
  d.resources.clear();
  for (auto& c : n.containers) d.resources.push_back({"Container", Json{{"ID", c}}, {}});
  for (auto& e : n.endpoints) d.resources.push_back({"Endpoint", Json{{"ID", e}}, {}});
  return encode(d);
}

}  // namespace

StatusOr<std::string> FakeHns::query(HcnObject type, const std::string& id, const std::string& q) {
  std::string op = std::string("HcnQuery") + hns::objectName(type) + "Properties";
  if (!q.empty()) HCS_RETURN_IF_ERROR(parseDoc<HostComputeQuery>(q, op, id).status());
  auto notFound = [&] { return err(hresult::kElementNotFound, op, id, std::string(hns::objectName(type)) + " " + id + " not found"); };
  switch (type) {
    case HcnObject::kNetwork: {
      auto it = s_->networks.find(lower(id));
      if (it == s_->networks.end()) return notFound();
      return encode(it->second.doc).dump();
    }
    case HcnObject::kEndpoint: {
      auto it = s_->endpoints.find(lower(id));
      if (it == s_->endpoints.end()) return notFound();
      return encode(it->second.doc).dump();
    }
    case HcnObject::kNamespace: {
      auto it = s_->namespaces.find(lower(id));
      if (it == s_->namespaces.end()) return notFound();
      return namespaceProps(it->second).dump();
    }
    case HcnObject::kLoadBalancer: {
      auto it = s_->lbs.find(lower(id));
      if (it == s_->lbs.end()) return notFound();
      return encode(it->second.doc).dump();
    }
    case HcnObject::kRoute: {
      auto it = s_->routes.find(lower(id));
      if (it == s_->routes.end()) return notFound();
      return encode(it->second).dump();
    }
  }
  return notFound();
}

StatusOr<std::string> FakeHns::enumerate(HcnObject type, const std::string& q) {
  std::string op = std::string("HcnEnumerate") + hns::objectName(type) + "s";
  Json filter = Json::object();
  if (!q.empty()) {
    HCS_ASSIGN_OR_RETURN(auto query, parseDoc<HostComputeQuery>(q, op, ""));
    if (query.filter && !query.filter->empty()) {
      auto f = parseJson(*query.filter);
      if (!f.ok() || !f->is_object()) return err(hresult::kHcnInvalidJson, op, "", "Filter: want a JSON object in a string");
      filter = *f;
    }
  }
  Json ids = Json::array();
  auto consider = [&](const std::string& id) {
    auto props = query(type, id, "");
    if (props.ok() && matchesFilter(*parseJson(*props), filter)) ids.push_back(id);
  };
  switch (type) {
    case HcnObject::kNetwork: for (auto& [id, r] : s_->networks) consider(id); break;
    case HcnObject::kEndpoint: for (auto& [id, r] : s_->endpoints) consider(id); break;
    case HcnObject::kNamespace: for (auto& [id, r] : s_->namespaces) consider(id); break;
    case HcnObject::kLoadBalancer: for (auto& [id, r] : s_->lbs) consider(id); break;
    case HcnObject::kRoute: for (auto& [id, r] : s_->routes) consider(id); break;
  }
  return ids.dump();
}

// ------------------------------------------------------------- create

namespace hnsfake {

StatusOr<std::string> chooseId(Ctx c, const std::string& requested, const std::string& docId, const std::string& op,
                               bool exists) {
  std::string id = !requested.empty() ? requested : docId;
  if (id.empty() && c.o.newId) return lower(c.o.newId());
  if (id.empty()) {
    if (c.s.nextId >= c.s.reservedId) {
      c.s.reservedId = c.s.nextId + (1u << 20);
      saveNetworks(c.o, c.s);
    }
    uint64_t n = c.s.nextId++;
    return Guid::fromRandom(0x484e53ULL << 40 | n, n).toString();
  }
  auto g = Guid::parse(id);
  if (!g.ok()) return err(hresult::kInvalidArg, op, id, "\"" + id + "\" is not a GUID");
  if (exists) return err(hresult::kAlreadyExists, op, id, "an object with id " + id + " already exists");
  return g->toString();
}

Status buildNetwork(NetworkRec& r, const std::string& op, const std::string& id) {
  auto& d = r.doc;
  if (!d.type) return err(hresult::kHcnInvalidNetworkType, op, id, "Type: required (NAT|Transparent|L2Bridge|L2Tunnel|ICS|Private|Overlay)");
  bool known = false;
  for (const char* t : kNetworkTypes) known = known || lower(*d.type) == lower(t);
  if (!known) return err(hresult::kHcnInvalidNetworkType, op, id, "Type: unknown network type \"" + *d.type + "\"");
  for (size_t i = 0; i < d.policies.size(); ++i) {
    if (!kNetworkPolicyTypes.count(d.policies[i].type)) {
      return err(hresult::kHcnInvalidPolicyType, op, id,
                 "Policies[" + std::to_string(i) + "].Type: unknown network policy type \"" + d.policies[i].type + "\"");
    }
  }
  for (size_t i = 0; i < d.ipams.size(); ++i) {
    for (size_t k = 0; k < d.ipams[i].subnets.size(); ++k) {
      auto& sub = d.ipams[i].subnets[k];
      std::string path = "Ipams[" + std::to_string(i) + "].Subnets[" + std::to_string(k) + "]";
      if (!sub.ipAddressPrefix) return err(hresult::kHcnInvalidPrefix, op, id, path + ".IpAddressPrefix: required");
      auto p = parsePrefix(*sub.ipAddressPrefix);
      if (!p.ok()) return err(hresult::kHcnInvalidPrefix, op, id, path + ".IpAddressPrefix: " + p.status().message());
      int max = p->address.v6 ? 128 : 32;
      if (max - p->length < 2) return err(hresult::kHcnInvalidSubnet, op, id, path + ": " + *sub.ipAddressPrefix + " has no room for endpoints");
      for (auto& other : r.pools) {
        if (other.prefix.contains(p->address) || p->contains(other.prefix.address)) {
          return err(hresult::kHcnInvalidSubnet, op, id, path + ": " + *sub.ipAddressPrefix + " overlaps " + other.text);
        }
      }
      for (size_t q = 0; q < sub.policies.size(); ++q) {
        auto& sp = sub.policies[q];
        std::string pp = path + ".Policies[" + std::to_string(q) + "]";
        if (sp.type != "VLAN" && sp.type != "VSID") {
          return err(hresult::kHcnInvalidPolicyType, op, id, pp + ".Type: unknown subnet policy type \"" + sp.type + "\"");
        }
        auto iso = decode<IsolationIdSetting>(sp.settings.is_null() ? Json::object() : sp.settings, pp + ".Settings");
        if (!iso.ok()) return err(hresult::kHcnInvalidPolicy, op, id, iso.status().message());
        if (sp.type == "VLAN" && (iso->isolationId == 0 || iso->isolationId > 4094)) {
          return err(hresult::kHcnInvalidPolicy, op, id, pp + ".Settings.IsolationId: want 1..4094 for a VLAN");
        }
      }
      SubnetPool pool{*sub.ipAddressPrefix, *p, std::nullopt, {}};
      for (size_t q = 0; q < sub.routes.size(); ++q) {
        auto& rt = sub.routes[q];
        std::string rp = path + ".Routes[" + std::to_string(q) + "]";
        if (rt.destinationPrefix && !parsePrefix(*rt.destinationPrefix).ok()) {
          return err(hresult::kHcnInvalidPrefix, op, id, rp + ".DestinationPrefix: \"" + *rt.destinationPrefix + "\" is not a prefix");
        }
        if (rt.nextHop) {
          auto gw = parseIp(*rt.nextHop);
          if (!gw.ok()) return err(hresult::kHcnInvalidIp, op, id, rp + ".NextHop: \"" + *rt.nextHop + "\" is not an IP address");
          if (p->contains(*gw)) pool.gateway = *gw;
        }
      }
      if (!pool.gateway) pool.gateway = addToIp(p->address, 1);
      r.pools.push_back(std::move(pool));
    }
  }
  if (d.macPool) {
    for (size_t i = 0; i < d.macPool->ranges.size(); ++i) {
      auto& mr = d.macPool->ranges[i];
      std::string path = "MacPool.Ranges[" + std::to_string(i) + "]";
      auto a = parseMac(mr.startMacAddress.value_or("")), b = parseMac(mr.endMacAddress.value_or(""));
      if (!a.ok()) return err(hresult::kInvalidArg, op, id, path + ".StartMacAddress: " + a.status().message());
      if (!b.ok()) return err(hresult::kInvalidArg, op, id, path + ".EndMacAddress: " + b.status().message());
      if (*a > *b) return err(hresult::kInvalidArg, op, id, path + ": StartMacAddress is after EndMacAddress");
      r.macRanges.push_back({*a, *b});
    }
  }
  if (r.macRanges.empty()) r.macRanges.push_back({kDefaultMacStart, kDefaultMacEnd});
  if (d.dns) HCS_RETURN_IF_ERROR(validateIpList(d.dns->serverList, "Dns.ServerList", op, id));
  if (!d.schemaVersion) d.schemaVersion = HcnVersion{2, 0, {}};
  return OkStatus();
}

StatusOr<uint64_t> allocateMac(Ctx c, const NetworkRec& n, const std::string& op, const std::string& id) {
  for (auto [a, b] : n.macRanges) {
    for (uint64_t m = a; m <= b; ++m) {
      if (!c.s.macsUsed.count(m)) return m;
      if (m == b) break;
    }
  }
  return err(hresult::kNoMoreItems, op, id, "network " + *n.doc.id + ": its MAC pool is used up");
}

}  // namespace hnsfake

StatusOr<std::string> FakeHns::create(HcnObject type, const std::string& requestedId, const std::string& networkId,
                                      const std::string& settings) {
  Ctx c{*s_, options_};
  std::string op = std::string("HcnCreate") + hns::objectName(type);
  switch (type) {
    case HcnObject::kNetwork: {
      HCS_ASSIGN_OR_RETURN(auto doc, parseDoc<HostComputeNetwork>(settings, op, requestedId));
      std::string want = !requestedId.empty() ? requestedId : doc.id.value_or("");
      if (!want.empty() && s_->networks.count(lower(want))) {
        return err(hresult::kHcnNetworkAlreadyExists, op, want, "network " + want + " already exists");
      }
      HCS_ASSIGN_OR_RETURN(std::string id, chooseId(c, requestedId, doc.id.value_or(""), op, false));
      NetworkRec r;
      r.doc = std::move(doc);
      r.doc.id = id;
      HCS_RETURN_IF_ERROR(buildNetwork(r, op, id));
      std::string out = encode(r.doc).dump();
      s_->networks[id] = std::move(r);
      saveNetworks(options_, *s_);
      HLOG(Info, "hns.network_created").kv("network", id).kv("type", *s_->networks[id].doc.type);
      return out;
    }
    case HcnObject::kEndpoint: {
      HCS_ASSIGN_OR_RETURN(auto doc, parseDoc<HostComputeEndpoint>(settings, op, requestedId));
      std::string netId = lower(!networkId.empty() ? networkId : doc.hostComputeNetwork.value_or(""));
      auto nit = s_->networks.find(netId);
      if (nit == s_->networks.end()) {
        return err(hresult::kElementNotFound, op, requestedId, "network \"" + netId + "\" not found");
      }
      NetworkRec& net = nit->second;
      std::string want = !requestedId.empty() ? requestedId : doc.id.value_or("");
      HCS_ASSIGN_OR_RETURN(std::string id, chooseId(c, requestedId, doc.id.value_or(""), op, s_->endpoints.count(lower(want)) > 0));
      EndpointRec r;
      r.doc = std::move(doc);
      r.doc.id = id;
      r.doc.hostComputeNetwork = netId;
      // Policies and their port claims.
      for (size_t i = 0; i < r.doc.policies.size(); ++i) {
        std::string claim;
        HCS_RETURN_IF_ERROR(validateEndpointPolicy(r.doc.policies[i], "Policies[" + std::to_string(i) + "]", op, id, &claim));
        if (claim.empty()) continue;
        bool dup = net.ports.count(claim) || std::find(r.ports.begin(), r.ports.end(), claim) != r.ports.end();
        if (dup) return err(hresult::kHcnPortAlreadyExists, op, id, "port mapping " + claim + " already exists on network " + netId);
        r.ports.push_back(claim);
      }
      // Address: the one asked for (inside a subnet, free), or the next free one.
      if (!r.doc.ipConfigurations.empty()) {
        auto& ipc = r.doc.ipConfigurations[0];
        auto ip = parseIp(ipc.ipAddress.value_or(""));
        SubnetPool* pool = nullptr;
        for (auto& p : net.pools) if (ip.ok() && p.prefix.contains(*ip)) pool = &p;
        if (!ip.ok() || !pool) {
          return err(hresult::kHcnInvalidIp, op, id,
                     "IP address is either invalid or not part of any configured subnet(s): \"" + ipc.ipAddress.value_or("") + "\"");
        }
        if (pool->taken(*ip)) {
          return err(hresult::kHcnInvalidIp, op, id, "IP address " + ip->toString() + " is already in use on network " + netId);
        }
        if (!ipc.prefixLength) ipc.prefixLength = static_cast<uint8_t>(pool->prefix.length);
        r.ip = ip->toString();
        ipc.ipAddress = r.ip;
        pool->claim(*ip);
      } else if (!net.pools.empty()) {
        for (auto& p : net.pools) {
          auto a = p.allocate();
          if (!a) continue;
          r.ip = a->toString();
          r.doc.ipConfigurations.push_back({r.ip, static_cast<uint8_t>(p.prefix.length), {}});
          if (r.doc.routes.empty() && p.gateway) r.doc.routes.push_back({p.gateway->toString(), p.prefix.address.v6 ? "::/0" : "0.0.0.0/0", {}, {}});
          break;
        }
        if (r.ip.empty()) return err(hresult::kNoMoreItems, op, id, "network " + netId + ": no free address in its subnets");
      }
      auto releaseIp = [&] {
        for (auto& p : net.pools) p.release(r.ip);
      };
      // MAC: the one asked for (unique), or the next free one of the pool.
      if (r.doc.macAddress) {
        auto m = parseMac(*r.doc.macAddress);
        if (!m.ok()) {
          releaseIp();
          return err(hresult::kInvalidArg, op, id, "MacAddress: " + m.status().message());
        }
        if (s_->macsUsed.count(*m)) {
          releaseIp();
          return err(hresult::kAlreadyExists, op, id, "MacAddress " + formatMac(*m) + " is already in use");
        }
        r.mac = *m;
      } else {
        auto m = allocateMac(c, net, op, id);
        if (!m.ok()) {
          releaseIp();
          return m.status();
        }
        r.mac = *m;
      }
      r.doc.macAddress = formatMac(r.mac);
      if (!r.doc.dns && net.doc.dns) r.doc.dns = net.doc.dns;
      if (!r.doc.schemaVersion) r.doc.schemaVersion = HcnVersion{2, 0, {}};
      // A namespace named at create time: attach.
      if (r.doc.hostComputeNamespace && !r.doc.hostComputeNamespace->empty()) {
        auto ns = s_->namespaces.find(lower(*r.doc.hostComputeNamespace));
        if (ns == s_->namespaces.end()) {
          releaseIp();
          return err(hresult::kElementNotFound, op, id, "namespace \"" + *r.doc.hostComputeNamespace + "\" not found");
        }
        ns->second.endpoints.push_back(id);
        r.doc.hostComputeNamespace = ns->first;
      }
      s_->macsUsed.insert(r.mac);
      for (auto& claim : r.ports) net.ports.insert(claim);
      net.endpoints.insert(id);
      std::string out = encode(r.doc).dump();
      s_->endpoints[id] = std::move(r);
      HLOG(Debug, "hns.endpoint_created").kv("endpoint", id).kv("network", netId).kv("ip", s_->endpoints[id].ip);
      return out;
    }
    case HcnObject::kNamespace: {
      HCS_ASSIGN_OR_RETURN(auto doc, parseDoc<HostComputeNamespace>(settings, op, requestedId));
      std::string want = !requestedId.empty() ? requestedId : doc.id.value_or("");
      HCS_ASSIGN_OR_RETURN(std::string id, chooseId(c, requestedId, doc.id.value_or(""), op, s_->namespaces.count(lower(want)) > 0));
      std::string t = doc.type.value_or("Host");
      if (t != "Host" && t != "HostDefault" && t != "Guest" && t != "GuestDefault") {
        return err(hresult::kInvalidArg, op, id, "Type: \"" + t + "\" is not one of Host|HostDefault|Guest|GuestDefault");
      }
      if (!doc.resources.empty()) return err(hresult::kInvalidArg, op, id, "Resources: add endpoints with HcnModifyNamespace");
      NamespaceRec r;
      r.doc = std::move(doc);
      r.doc.id = id;
      r.doc.type = t;
      r.doc.namespaceId = s_->nextCompartment++;
      if (!r.doc.schemaVersion) r.doc.schemaVersion = HcnVersion{2, 0, {}};
      s_->namespaces[id] = std::move(r);
      return namespaceProps(s_->namespaces[id]).dump();
    }
    case HcnObject::kLoadBalancer: {
      HCS_ASSIGN_OR_RETURN(auto doc, parseDoc<HostComputeLoadBalancer>(settings, op, requestedId));
      std::string want = !requestedId.empty() ? requestedId : doc.id.value_or("");
      HCS_ASSIGN_OR_RETURN(std::string id, chooseId(c, requestedId, doc.id.value_or(""), op, s_->lbs.count(lower(want)) > 0));
      LbRec r;
      r.doc = std::move(doc);
      r.doc.id = id;
      for (auto& e : r.doc.hostComputeEndpoints) {
        e = lower(e);
        if (!s_->endpoints.count(e)) return err(hresult::kElementNotFound, op, id, "endpoint \"" + e + "\" not found");
      }
      if (r.doc.sourceVip) HCS_RETURN_IF_ERROR(validateIpList({*r.doc.sourceVip}, "SourceVIP", op, id));
      HCS_RETURN_IF_ERROR(validateIpList(r.doc.frontendVips, "FrontendVIPs", op, id));
      if (r.doc.portMappings.empty()) return err(hresult::kHcnInvalidPolicy, op, id, "PortMappings: at least one is required");
      std::vector<std::string> vips = r.doc.frontendVips.empty() ? std::vector<std::string>{""} : r.doc.frontendVips;
      for (size_t i = 0; i < r.doc.portMappings.size(); ++i) {
        auto& pm = r.doc.portMappings[i];
        uint32_t proto = pm.protocol.value_or(6);
        std::string path = "PortMappings[" + std::to_string(i) + "]";
        if (proto != 6 && proto != 17) {
          return err(hresult::kHcnInvalidPolicy, op, id, path + ".Protocol: want 6 (TCP) or 17 (UDP), got " + std::to_string(proto));
        }
        if (!pm.externalPort || !*pm.externalPort) return err(hresult::kHcnInvalidPolicy, op, id, path + ".ExternalPort: required");
        for (auto& vip : vips) {
          std::string claim = std::to_string(proto) + "/" + std::to_string(*pm.externalPort) + "/" + vip;
          if (s_->lbPorts.count(claim) || std::find(r.ports.begin(), r.ports.end(), claim) != r.ports.end()) {
            return err(hresult::kHcnPortAlreadyExists, op, id, "load balancer frontend " + claim + " already exists");
          }
          r.ports.push_back(claim);
        }
      }
      if (!r.doc.schemaVersion) r.doc.schemaVersion = HcnVersion{2, 0, {}};
      for (auto& claim : r.ports) s_->lbPorts.insert(claim);
      std::string out = encode(r.doc).dump();
      s_->lbs[id] = std::move(r);
      return out;
    }
    case HcnObject::kRoute: {
      HCS_ASSIGN_OR_RETURN(auto doc, parseDoc<HostComputeRoute>(settings, op, requestedId));
      std::string want = !requestedId.empty() ? requestedId : doc.id.value_or("");
      HCS_ASSIGN_OR_RETURN(std::string id, chooseId(c, requestedId, doc.id.value_or(""), op, s_->routes.count(lower(want)) > 0));
      doc.id = id;
      for (auto& e : doc.hostComputeEndpoints) {
        e = lower(e);
        if (!s_->endpoints.count(e)) return err(hresult::kElementNotFound, op, id, "endpoint \"" + e + "\" not found");
      }
      for (size_t i = 0; i < doc.setting.size(); ++i) {
        HcnPolicy p{endpointpolicy::kSdnRoute, encode(doc.setting[i]), {}};
        HCS_RETURN_IF_ERROR(validateEndpointPolicy(p, "Setting[" + std::to_string(i) + "]", op, id, nullptr));
      }
      if (!doc.schemaVersion) doc.schemaVersion = HcnVersion{2, 0, {}};
      s_->routes[id] = doc;
      return encode(doc).dump();
    }
  }
  return err(hresult::kNotImpl, op, requestedId, "unknown object type");
}

// ------------------------------------------------------------- modify

Status FakeHns::modify(HcnObject type, const std::string& rawId, const std::string& settings) {
  std::string op = std::string("HcnModify") + hns::objectName(type);
  std::string id = lower(rawId);
  HCS_ASSIGN_OR_RETURN(auto req, parseDoc<HcnModifyRequest>(settings, op, id));
  std::string rt = req.requestType.value_or(""), res = req.resourceType.value_or("");
  auto notFound = [&] { return err(hresult::kElementNotFound, op, id, std::string(hns::objectName(type)) + " " + id + " not found"); };
  auto unsupported = [&] {
    return err(hresult::kHcnRequestUnsupported, op, id, "ResourceType \"" + res + "\" with RequestType \"" + rt + "\" is not supported");
  };
  switch (type) {
    case HcnObject::kNetwork: {
      auto it = s_->networks.find(id);
      if (it == s_->networks.end()) return notFound();
      auto& doc = it->second.doc;
      if (res == "Policy" && (rt == "Add" || rt == "Remove")) {
        auto pr = decode<PolicyRequest>(req.settings.is_null() ? Json::object() : req.settings, "Settings");
        if (!pr.ok()) return err(hresult::kHcnInvalidJson, op, id, pr.status().message());
        for (auto& p : pr->policies) {
          if (!kNetworkPolicyTypes.count(p.type)) {
            return err(hresult::kHcnInvalidPolicyType, op, id, "Settings.Policies: unknown network policy type \"" + p.type + "\"");
          }
          auto same = [&](const HcnPolicy& q) { return q.type == p.type && q.settings == p.settings; };
          auto found = std::find_if(doc.policies.begin(), doc.policies.end(), same);
          if (rt == "Add" && found != doc.policies.end()) {
            return err(hresult::kHcnPolicyAlreadyExists, op, id, "a " + p.type + " policy with these settings already exists");
          }
          if (rt == "Remove" && found == doc.policies.end()) {
            return err(hresult::kElementNotFound, op, id, "no " + p.type + " policy with these settings");
          }
        }
        for (auto& p : pr->policies) {
          if (rt == "Add") {
            doc.policies.push_back(p);
          } else {
            std::erase_if(doc.policies, [&](const HcnPolicy& q) { return q.type == p.type && q.settings == p.settings; });
          }
        }
      } else if (res == "DNS" && (rt == "Update" || rt == "Add")) {
        auto dns = decode<HcnDns>(req.settings.is_null() ? Json::object() : req.settings, "Settings");
        if (!dns.ok()) return err(hresult::kHcnInvalidJson, op, id, dns.status().message());
        HCS_RETURN_IF_ERROR(validateIpList(dns->serverList, "Settings.ServerList", op, id));
        doc.dns = *dns;
      } else {
        return unsupported();
      }
      saveNetworks(options_, *s_);
      return OkStatus();
    }
    case HcnObject::kEndpoint: {
      auto it = s_->endpoints.find(id);
      if (it == s_->endpoints.end()) return notFound();
      auto& ep = it->second;
      auto& net = s_->networks.at(*ep.doc.hostComputeNetwork);
      if (res != "Policy" || (rt != "Add" && rt != "Remove" && rt != "Update")) return unsupported();
      auto pr = decode<PolicyRequest>(req.settings.is_null() ? Json::object() : req.settings, "Settings");
      if (!pr.ok()) return err(hresult::kHcnInvalidJson, op, id, pr.status().message());
      std::vector<HcnPolicy> next = rt == "Update" ? std::vector<HcnPolicy>{} : ep.doc.policies;
      if (rt == "Remove") {
        for (auto& p : pr->policies) {
          auto n = std::erase_if(next, [&](const HcnPolicy& q) { return q.type == p.type && q.settings == p.settings; });
          if (n == 0) return err(hresult::kElementNotFound, op, id, "no " + p.type + " policy with these settings");
        }
      } else {
        for (auto& p : pr->policies) next.push_back(p);
      }
      // Re-validate and re-claim ports against the network minus our own claims.
      std::set<std::string> others = net.ports;
      for (auto& claim : ep.ports) others.erase(claim);
      std::vector<std::string> claims;
      for (size_t i = 0; i < next.size(); ++i) {
        std::string claim;
        HCS_RETURN_IF_ERROR(validateEndpointPolicy(next[i], "Settings.Policies[" + std::to_string(i) + "]", op, id, &claim));
        if (claim.empty()) continue;
        if (others.count(claim) || std::find(claims.begin(), claims.end(), claim) != claims.end()) {
          return err(hresult::kHcnPortAlreadyExists, op, id, "port mapping " + claim + " already exists on network " + *ep.doc.hostComputeNetwork);
        }
        claims.push_back(claim);
      }
      for (auto& claim : ep.ports) net.ports.erase(claim);
      for (auto& claim : claims) net.ports.insert(claim);
      ep.ports = claims;
      ep.doc.policies = next;
      return OkStatus();
    }
    case HcnObject::kNamespace: {
      auto it = s_->namespaces.find(id);
      if (it == s_->namespaces.end()) return notFound();
      auto& ns = it->second;
      if ((res != "Endpoint" && res != "Container") || (rt != "Add" && rt != "Remove")) return unsupported();
      const char* key = res == "Endpoint" ? "EndpointId" : "ContainerId";
      if (!req.settings.is_object() || !req.settings.contains(key) || !req.settings[key].is_string()) {
        return err(hresult::kHcnInvalidJson, op, id, std::string("Settings.") + key + ": required");
      }
      std::string target = lower(req.settings[key].get<std::string>());
      if (res == "Container") {
        auto& list = ns.containers;
        if (rt == "Add" && std::find(list.begin(), list.end(), target) == list.end()) list.push_back(target);
        if (rt == "Remove") std::erase(list, target);
        return OkStatus();
      }
      auto ep = s_->endpoints.find(target);
      if (ep == s_->endpoints.end()) return err(hresult::kElementNotFound, op, id, "endpoint \"" + target + "\" not found");
      std::string current = ep->second.doc.hostComputeNamespace.value_or("");
      if (rt == "Add") {
        if (current == id) return OkStatus();
        if (!current.empty()) {
          return err(hresult::kHcnEndpointAlreadyAttached, op, id, "endpoint " + target + " is already attached to namespace " + current);
        }
        ns.endpoints.push_back(target);
        ep->second.doc.hostComputeNamespace = id;
      } else {
        if (current != id) return err(hresult::kHcnEndpointNotAttached, op, id, "endpoint " + target + " is not attached to this namespace");
        std::erase(ns.endpoints, target);
        ep->second.doc.hostComputeNamespace.reset();
      }
      return OkStatus();
    }
    case HcnObject::kLoadBalancer: {
      auto it = s_->lbs.find(id);
      if (it == s_->lbs.end()) return notFound();
      if (rt != "Update") return unsupported();
      // Update replaces the load balancer's settings (same id), all or nothing.
      LbRec old = it->second;
      for (auto& claim : old.ports) s_->lbPorts.erase(claim);
      s_->lbs.erase(it);
      Json doc = req.settings.is_object() ? req.settings : Json::object();
      doc["ID"] = id;
      auto created = create(HcnObject::kLoadBalancer, "", "", doc.dump());
      if (!created.ok()) {
        for (auto& claim : old.ports) s_->lbPorts.insert(claim);
        s_->lbs[id] = std::move(old);
        return Status::fromHResult(created.status().hresult(), op, id, created.status().message());
      }
      return OkStatus();
    }
    case HcnObject::kRoute:
      return unsupported();
  }
  return unsupported();
}

// ------------------------------------------------------------- delete

Status FakeHns::remove(HcnObject type, const std::string& rawId) {
  std::string op = std::string("HcnDelete") + hns::objectName(type);
  std::string id = lower(rawId);
  auto notFound = [&] { return err(hresult::kElementNotFound, op, id, std::string(hns::objectName(type)) + " " + id + " not found"); };
  auto inUse = [&](const std::string& by) {
    return err(hresult::kHcnEntityHasReferences, op, id, std::string(hns::objectName(type)) + " " + id + " is in use by " + by);
  };
  switch (type) {
    case HcnObject::kNetwork: {
      auto it = s_->networks.find(id);
      if (it == s_->networks.end()) return notFound();
      if (!it->second.endpoints.empty()) {
        return inUse(std::to_string(it->second.endpoints.size()) + " endpoint(s), e.g. " + *it->second.endpoints.begin());
      }
      s_->networks.erase(it);
      saveNetworks(options_, *s_);
      HLOG(Info, "hns.network_deleted").kv("network", id);
      return OkStatus();
    }
    case HcnObject::kEndpoint: {
      auto it = s_->endpoints.find(id);
      if (it == s_->endpoints.end()) return notFound();
      for (auto& [lid, lb] : s_->lbs) {
        for (auto& e : lb.doc.hostComputeEndpoints) if (e == id) return inUse("load balancer " + lid);
      }
      for (auto& [rid, r] : s_->routes) {
        for (auto& e : r.hostComputeEndpoints) if (e == id) return inUse("route " + rid);
      }
      for (auto& [pid, pl] : s_->policyLists) {
        for (auto& ref : pl.endpointReferences) if (lower(ref) == "/endpoints/" + id) return inUse("policy list " + pid);
      }
      auto& ep = it->second;
      if (ep.doc.hostComputeNamespace) {
        auto ns = s_->namespaces.find(*ep.doc.hostComputeNamespace);
        if (ns != s_->namespaces.end()) std::erase(ns->second.endpoints, id);
      }
      auto& net = s_->networks.at(*ep.doc.hostComputeNetwork);
      for (auto& p : net.pools) p.release(ep.ip);
      for (auto& claim : ep.ports) net.ports.erase(claim);
      net.endpoints.erase(id);
      s_->macsUsed.erase(ep.mac);
      s_->endpoints.erase(it);
      return OkStatus();
    }
    case HcnObject::kNamespace: {
      auto it = s_->namespaces.find(id);
      if (it == s_->namespaces.end()) return notFound();
      if (!it->second.endpoints.empty()) return inUse("endpoint " + it->second.endpoints.front());
      s_->namespaces.erase(it);
      return OkStatus();
    }
    case HcnObject::kLoadBalancer: {
      auto it = s_->lbs.find(id);
      if (it == s_->lbs.end()) return notFound();
      for (auto& claim : it->second.ports) s_->lbPorts.erase(claim);
      s_->lbs.erase(it);
      return OkStatus();
    }
    case HcnObject::kRoute: {
      if (!s_->routes.erase(id)) return notFound();
      return OkStatus();
    }
  }
  return notFound();
}

StatusOr<HostComputeEndpoint> FakeHns::endpoint(const std::string& id) const {
  auto it = s_->endpoints.find(lower(id));
  if (it == s_->endpoints.end()) return err(hresult::kElementNotFound, "endpoint", id, "endpoint " + id + " not found");
  return it->second.doc;
}

StatusOr<HostComputeNetwork> FakeHns::network(const std::string& id) const {
  auto it = s_->networks.find(lower(id));
  if (it == s_->networks.end()) return err(hresult::kElementNotFound, "network", id, "network " + id + " not found");
  return it->second.doc;
}

// ------------------------------------------------------------- persistence

void hnsfake::saveNetworks(const FakeHnsOptions& o, const FakeHns::State& s) {
  if (o.statePath.empty()) return;
  Json nets = Json::array();
  for (auto& [id, n] : s.networks) {
    Json d = encode(n.doc);
    if (!n.v1Policies.empty()) d["V1Policies"] = n.v1Policies;
    nets.push_back(d);
  }
  std::string tmp = o.statePath + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    Json doc = Json::object();
    doc["Networks"] = nets;
    doc["NextId"] = s.reservedId;
    out << doc.dump(1);
    if (!out) {
      HLOG(Error, "hns.state_save_failed").kv("path", tmp);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, o.statePath, ec);
  if (ec) HLOG(Error, "hns.state_save_failed").kv("path", o.statePath).kv("error", ec.message());
}


// ------------------------------------------------------------- InProcessHns

Task<StatusOr<std::string>> InProcessHns::enumerate(HcnObject type, std::string query) {
  co_return fake_.enumerate(type, query);
}
Task<StatusOr<std::string>> InProcessHns::create(HcnObject type, std::string id, std::string network, std::string settings) {
  co_return fake_.create(type, id, network, settings);
}
Task<StatusOr<std::string>> InProcessHns::query(HcnObject type, std::string id, std::string query) {
  co_return fake_.query(type, id, query);
}
Task<Status> InProcessHns::modify(HcnObject type, std::string id, std::string settings) {
  co_return fake_.modify(type, id, settings);
}
Task<Status> InProcessHns::remove(HcnObject type, std::string id) { co_return fake_.remove(type, id); }
Task<StatusOr<std::string>> InProcessHns::hnsCall(std::string method, std::string path, std::string request) {
  co_return fake_.hnsCall(method, path, request);
}

}  // namespace hcsshim::hcs_fake
