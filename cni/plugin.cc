#include "cni/plugin.h"

#include <algorithm>
#include <set>
#include <variant>

#include "src/common/json.h"
#include "src/common/log.h"
#include "src/hns/hcn.h"
#include "src/schema/hns.h"

namespace hcsshim::cni {

using runtime::Task;

namespace {

const std::set<std::string> kVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};

struct PortMapping {
  int hostPort = 0, containerPort = 0;
  uint32_t protocol = 6;  // HNS's numbers: 6 TCP, 17 UDP
  std::string hostIp;
};

struct Config {
  std::string cniVersion, name, network, subnet, gateway;
  std::vector<std::string> nameservers, search;
  std::vector<PortMapping> portMappings;  // runtimeConfig.portMappings (CNI's portMappings capability)
};

// parseConfig: the network config; a Response on error.
std::variant<Config, Response> parseConfig(const std::string& text) {
  auto j = parseJson(text);
  if (!j.ok() || !j->is_object()) {
    return errorResponse("1.0.0", kDecodeFailure, "the network config is not a JSON object",
                         j.ok() ? "" : j.status().message());
  }
  Config c;
  auto str = [&](const char* key, std::string& out, bool required) -> std::optional<Response> {
    if (!j->contains(key)) {
      if (required) return errorResponse(c.cniVersion, kInvalidConfig, std::string("the network config has no ") + key);
      return std::nullopt;
    }
    if (!(*j)[key].is_string()) return errorResponse(c.cniVersion, kInvalidConfig, std::string(key) + ": want a string");
    out = (*j)[key].get<std::string>();
    return std::nullopt;
  };
  c.cniVersion = "1.0.0";
  std::string version;
  if (auto e = str("cniVersion", version, true)) return *e;
  if (!kVersions.count(version)) {
    return errorResponse("1.0.0", kIncompatibleVersion, "cniVersion " + version + " is not supported",
                         "supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0");
  }
  c.cniVersion = version;
  if (auto e = str("name", c.name, true)) return *e;
  c.network = c.name;
  if (auto e = str("network", c.network, false)) return *e;
  if (j->contains("ipam")) {
    const Json& ipam = (*j)["ipam"];
    if (!ipam.is_object()) return errorResponse(c.cniVersion, kInvalidConfig, "ipam: want an object");
    for (auto [key, out] : {std::pair{"subnet", &c.subnet}, std::pair{"gateway", &c.gateway}}) {
      if (!ipam.contains(key)) continue;
      if (!ipam[key].is_string()) return errorResponse(c.cniVersion, kInvalidConfig, std::string("ipam.") + key + ": want a string");
      *out = ipam[key].get<std::string>();
    }
  }
  if (j->contains("dns")) {
    const Json& dns = (*j)["dns"];
    if (!dns.is_object()) return errorResponse(c.cniVersion, kInvalidConfig, "dns: want an object");
    for (auto [key, out] : {std::pair{"nameservers", &c.nameservers}, std::pair{"search", &c.search}}) {
      if (!dns.contains(key)) continue;
      if (!dns[key].is_array()) return errorResponse(c.cniVersion, kInvalidConfig, std::string("dns.") + key + ": want an array");
      for (const Json& v : dns[key]) {
        if (!v.is_string()) return errorResponse(c.cniVersion, kInvalidConfig, std::string("dns.") + key + ": want strings");
        out->push_back(v.get<std::string>());
      }
    }
  }
  if (j->contains("runtimeConfig")) {
    const Json& rc = (*j)["runtimeConfig"];
    if (!rc.is_object()) return errorResponse(c.cniVersion, kInvalidConfig, "runtimeConfig: want an object");
    if (rc.contains("portMappings")) {
      if (!rc["portMappings"].is_array()) {
        return errorResponse(c.cniVersion, kInvalidConfig, "runtimeConfig.portMappings: want an array");
      }
      for (const Json& m : rc["portMappings"]) {
        // Keys matched case-insensitively, as Go's encoding/json does: go-cni
        // (containerd) sends {"HostPort": ..., "ContainerPort": ...}.
        auto field = [&](std::string key) -> const Json* {
          if (!m.is_object()) return nullptr;
          for (auto it = m.begin(); it != m.end(); ++it) {
            if (std::equal(it.key().begin(), it.key().end(), key.begin(), key.end(),
                           [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); })) {
              return &it.value();
            }
          }
          return nullptr;
        };
        auto port = [&](const char* key) -> int {
          const Json* v = field(key);
          return v && v->is_number_integer() && *v >= 0 && *v <= 65535 ? v->get<int>() : -1;
        };
        PortMapping pm{port("hostPort"), port("containerPort"), 6, ""};
        if (pm.hostPort < 1 || pm.hostPort > 65535 || pm.containerPort < 1 || pm.containerPort > 65535) {
          return errorResponse(c.cniVersion, kInvalidConfig,
                               "runtimeConfig.portMappings: each wants hostPort and containerPort in 1-65535, got " +
                                   jsonText(m));
        }
        if (const Json* proto = field("protocol"); proto && !(proto->is_string() && proto->get<std::string>().empty())) {
          if (!proto->is_string()) return errorResponse(c.cniVersion, kInvalidConfig, "portMappings protocol: want a string");
          std::string p = proto->get<std::string>();
          for (auto& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (p == "udp") pm.protocol = 17;
          else if (p != "tcp") return errorResponse(c.cniVersion, kInvalidConfig, "portMappings protocol " + p + ": want tcp or udp");
        }
        if (const Json* ip = field("hostIP"); ip && ip->is_string()) pm.hostIp = ip->get<std::string>();
        c.portMappings.push_back(pm);
      }
    }
  }
  return c;
}

Response hnsFailure(const Config& c, const std::string& what, const Status& st) {
  int code = st.code() == Code::kUnavailable ? kTryAgainLater : kHnsError;
  return errorResponse(c.cniVersion, code, what, st.toString());
}

// findNetwork: the HCN network by name, made (NAT over the config's subnet) if missing.
Task<StatusOr<schema::HostComputeNetwork>> findNetwork(hns::HcnClient& hcn, const Config& c) {
  Json filter = {{"Name", c.network}};
  auto list = co_await hcn.listNetworks(filter);
  if (!list.ok()) co_return list.status();
  for (auto& n : *list) {
    if (n.name.value_or("") == c.network) co_return n;
  }
  if (c.subnet.empty()) co_return NotFoundError("HCN network " + c.network + " does not exist and the config has no ipam.subnet to make it");
  schema::HostComputeNetwork n = hns::natNetwork(c.network, c.subnet, c.gateway);
  co_return co_await hcn.createNetwork(n);
}

// findEndpoint: the endpoint named `name` (nullopt if none).
Task<StatusOr<std::optional<schema::HostComputeEndpoint>>> findEndpoint(hns::HcnClient& hcn, std::string name) {
  Json filter = {{"Name", name}};
  auto list = co_await hcn.listEndpoints(filter);
  if (!list.ok()) co_return list.status();
  for (auto& e : *list) {
    if (e.name.value_or("") == name) co_return std::optional<schema::HostComputeEndpoint>(e);
  }
  co_return std::optional<schema::HostComputeEndpoint>();
}

std::string result(const Config& c, const schema::HostComputeEndpoint& ep, const std::string& ifname,
                   const std::string& netns) {
  Json out = {{"cniVersion", c.cniVersion}};
  std::string mac = ep.macAddress.value_or("");
  for (auto& ch : mac) ch = ch == '-' ? ':' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  out["interfaces"] = Json::array({Json{{"name", ifname}, {"mac", mac}, {"sandbox", netns}}});
  Json ips = Json::array();
  for (const auto& ip : ep.ipConfigurations) {
    Json entry = {{"address", ip.ipAddress.value_or("") + "/" + std::to_string(ip.prefixLength.value_or(24))},
                  {"interface", 0}};
    if (c.cniVersion != "1.0.0") entry["version"] = ip.ipAddress.value_or("").find(':') == std::string::npos ? "4" : "6";
    if (!c.gateway.empty()) entry["gateway"] = c.gateway;
    ips.push_back(entry);
  }
  out["ips"] = ips;
  Json routes = Json::array();
  for (const auto& r : ep.routes) {
    Json route = {{"dst", r.destinationPrefix.value_or("0.0.0.0/0")}};
    if (r.nextHop && !r.nextHop->empty()) route["gw"] = *r.nextHop;
    routes.push_back(route);
  }
  if (routes.empty() && !c.gateway.empty()) routes.push_back(Json{{"dst", "0.0.0.0/0"}, {"gw", c.gateway}});
  out["routes"] = routes;
  Json dns = Json::object();
  if (!c.nameservers.empty()) dns["nameservers"] = c.nameservers;
  if (!c.search.empty()) dns["search"] = c.search;
  out["dns"] = dns;
  return jsonText(out);
}

// undo: what a failed ADD made (the namespace, the endpoint) goes again.
Task<void> undo(hns::HcnClient& hcn, std::string nsid, std::string endpointId, bool madeNamespace,
                bool madeEndpoint) {
  if (madeNamespace) {
    Status detached = co_await hcn.detachEndpoint(nsid, endpointId);
    Status removed = co_await hcn.deleteNamespace(nsid);
    if (!removed.ok()) HLOG(Warn, "cni.undo_failed").kv("namespace", nsid).kv("err", removed).kv("detach", detached);
  }
  if (madeEndpoint) {
    Status removed = co_await hcn.deleteEndpoint(endpointId);
    if (!removed.ok()) HLOG(Warn, "cni.undo_failed").kv("endpoint", endpointId).kv("err", removed);
  }
}

Task<Response> add(const Config& c, hns::HcnClient& hcn, std::string containerId, std::string netns,
                   std::string ifname) {
  auto net = co_await findNetwork(hcn, c);
  if (!net.ok()) co_return hnsFailure(c, "the HCN network " + c.network, net.status());
  std::string name = containerId + "_" + ifname;
  std::string nsid = hns::namespaceForNetns(netns);
  auto existing = co_await findEndpoint(hcn, name);
  if (!existing.ok()) co_return hnsFailure(c, "listing endpoints", existing.status());
  bool madeEndpoint = false, madeNamespace = false;
  schema::HostComputeEndpoint ep;
  if (*existing) {
    ep = **existing;  // an ADD repeated: the same endpoint
  } else {
    schema::HostComputeEndpoint doc;
    doc.name = name;
    if (!c.nameservers.empty() || !c.search.empty()) {
      schema::HcnDns dns;
      dns.serverList = c.nameservers;
      dns.search = c.search;
      if (!c.search.empty()) dns.domain = c.search[0];
      doc.dns = dns;
    }
    // Host ports as HNS does them: a PortMapping policy per mapping (HNS's
    // NAT forwards ExternalPort to the endpoint's InternalPort).
    for (const auto& pm : c.portMappings) {
      Json settings = {{"Protocol", pm.protocol}, {"InternalPort", pm.containerPort}, {"ExternalPort", pm.hostPort}};
      if (!pm.hostIp.empty() && pm.hostIp != "0.0.0.0") settings["VIP"] = pm.hostIp;
      doc.policies.push_back(schema::HcnPolicy{schema::endpointpolicy::kPortMapping, settings, {}});
    }
    auto made = co_await hcn.createEndpoint(*net->id, doc);
    if (!made.ok()) co_return hnsFailure(c, "creating endpoint " + name, made.status());
    ep = *made;
    madeEndpoint = true;
  }
  // What this ADD made goes again when a later step fails.
  std::string epId = *ep.id;
  auto ns = co_await hcn.getNamespace(nsid);
  if (!ns.ok() && ns.status().code() != Code::kNotFound) {
    Response r = hnsFailure(c, "reading namespace " + nsid, ns.status());
    co_await undo(hcn, nsid, epId, false, madeEndpoint);
    co_return r;
  }
  if (!ns.ok()) {
    schema::HostComputeNamespace doc;
    doc.id = nsid;
    doc.type = "Guest";
    auto made = co_await hcn.createNamespace(doc);
    if (!made.ok()) {
      Response r = hnsFailure(c, "creating namespace " + nsid, made.status());
      co_await undo(hcn, nsid, epId, false, madeEndpoint);
      co_return r;
    }
    madeNamespace = true;
  }
  if (ep.hostComputeNamespace.value_or("") != nsid) {
    Status st = co_await hcn.attachEndpoint(nsid, epId);
    if (!st.ok()) {
      Response r = hnsFailure(c, "attaching " + name + " to " + nsid, st);
      co_await undo(hcn, nsid, epId, madeNamespace, madeEndpoint);
      co_return r;
    }
  }
  auto fresh = co_await hcn.getEndpoint(*ep.id);
  if (fresh.ok()) ep = *fresh;
  HLOG(Info, "cni.added").kv("container", containerId).kv("endpoint", ep.id.value_or("")).kv("namespace", nsid)
      .kv("ip", ep.ipConfigurations.empty() ? "" : ep.ipConfigurations[0].ipAddress.value_or(""));
  co_return Response{0, result(c, ep, ifname, netns)};
}

Task<Response> del(const Config& c, hns::HcnClient& hcn, std::string containerId, std::string netns,
                   std::string ifname) {
  std::string name = containerId + "_" + ifname;
  auto ep = co_await findEndpoint(hcn, name);
  if (!ep.ok()) co_return hnsFailure(c, "listing endpoints", ep.status());
  std::string nsid = netns.empty() ? "" : hns::namespaceForNetns(netns);
  if (*ep) {
    std::string attached = (*ep)->hostComputeNamespace.value_or("");
    if (!attached.empty()) {
      Status st = co_await hcn.detachEndpoint(attached, *(*ep)->id);
      if (!st.ok() && st.code() != Code::kNotFound) co_return hnsFailure(c, "detaching " + name, st);
      if (nsid.empty()) nsid = attached;
    }
    Status st = co_await hcn.deleteEndpoint(*(*ep)->id);
    if (!st.ok() && st.code() != Code::kNotFound) co_return hnsFailure(c, "deleting endpoint " + name, st);
  }
  if (!nsid.empty()) {
    // The namespace goes once nothing else is in it.
    Json filter = {{"HostComputeNamespace", nsid}};
    auto others = co_await hcn.listEndpoints(filter);
    if (others.ok() && others->empty()) {
      Status st = co_await hcn.deleteNamespace(nsid);
      if (!st.ok() && st.code() != Code::kNotFound) co_return hnsFailure(c, "deleting namespace " + nsid, st);
    }
  }
  HLOG(Info, "cni.deleted").kv("container", containerId).kv("namespace", nsid);
  co_return Response{0, ""};
}

Task<Response> check(const Config& c, hns::HcnClient& hcn, std::string containerId, std::string netns,
                     std::string ifname) {
  std::string name = containerId + "_" + ifname;
  auto ep = co_await findEndpoint(hcn, name);
  if (!ep.ok()) co_return hnsFailure(c, "listing endpoints", ep.status());
  if (!*ep) co_return errorResponse(c.cniVersion, kUnknownContainer, "no endpoint " + name + " for container " + containerId);
  std::string nsid = hns::namespaceForNetns(netns);
  if ((*ep)->hostComputeNamespace.value_or("") != nsid) {
    co_return errorResponse(c.cniVersion, kHnsError, "endpoint " + name + " is not in namespace " + nsid + " (of " + netns + ")");
  }
  co_return Response{0, ""};
}

}  // namespace

Response errorResponse(const std::string& cniVersion, int code, const std::string& msg, const std::string& details) {
  Json e = {{"cniVersion", cniVersion}, {"code", code}, {"msg", msg}};
  if (!details.empty()) e["details"] = details;
  return Response{1, jsonText(e)};
}

Response versionResponse() {
  return Response{0, jsonText(Json{{"cniVersion", "1.0.0"},
                                   {"supportedVersions", Json::array({"0.3.0", "0.3.1", "0.4.0", "1.0.0"})}})};
}

Task<Response> run(Request req, hns::HnsApi& api) {
  auto env = [&](const char* k) {
    auto it = req.env.find(k);
    return it == req.env.end() ? std::string() : it->second;
  };
  std::string command = env("CNI_COMMAND");
  if (command == "VERSION") co_return versionResponse();
  if (command != "ADD" && command != "DEL" && command != "CHECK") {
    co_return errorResponse("1.0.0", kInvalidEnvironment, "CNI_COMMAND: want ADD, DEL, CHECK or VERSION, got \"" + command + "\"");
  }
  auto parsed = parseConfig(req.config);
  if (auto* r = std::get_if<Response>(&parsed)) co_return *r;
  const Config c = std::get<Config>(parsed);
  std::string containerId = env("CNI_CONTAINERID"), netns = env("CNI_NETNS"), ifname = env("CNI_IFNAME");
  if (containerId.empty()) co_return errorResponse(c.cniVersion, kInvalidEnvironment, "CNI_CONTAINERID is not set");
  if (ifname.empty()) co_return errorResponse(c.cniVersion, kInvalidEnvironment, "CNI_IFNAME is not set");
  if (netns.empty() && command != "DEL") co_return errorResponse(c.cniVersion, kInvalidEnvironment, "CNI_NETNS is not set");
  for (const std::string* v : {&containerId, &ifname}) {
    if (v->size() > 256 || v->find_first_of("/\\\n") != std::string::npos) {
      co_return errorResponse(c.cniVersion, kInvalidEnvironment, "CNI_CONTAINERID / CNI_IFNAME: \"" + *v + "\" is not a name");
    }
  }
  hns::HcnClient hcn(api);
  if (command == "ADD") co_return co_await add(c, hcn, containerId, netns, ifname);
  if (command == "DEL") co_return co_await del(c, hcn, containerId, netns, ifname);
  co_return co_await check(c, hcn, containerId, netns, ifname);
}

}  // namespace hcsshim::cni
