#include "tools/hnsdiag/commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "src/common/json.h"
#include "src/hns/hcn.h"

namespace hcsshim::hnsdiag {

namespace {

using runtime::Task;

}  // namespace

int usage() {
  std::fprintf(stderr,
               "usage: hnsdiag [--address ADDR] <command>\n"
               "  list networks|endpoints|namespaces|loadbalancers|routes [--filter JSON]\n"
               "  show <type> <id>\n"
               "  policies <type> <id>\n"
               "  create network <name> <type> [<prefix> <gateway>]\n"
               "  create endpoint <network-id> [<ip>]\n"
               "  create namespace [Host|Guest]\n"
               "  create <type> [--network ID] --json <file|->\n"
               "  attach|detach <namespace-id> <endpoint-id>\n"
               "  delete <type> <id>\n"
               "  version\n");
  return 2;
}

int fail(const Status& s) {
  std::fprintf(stderr, "hnsdiag: %s\n", s.toString().c_str());
  return 1;
}

std::string readDoc(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    text << in.rdbuf();
  }
  return text.str();
}

// summary: the columns `list` prints for an object.
std::string summary(hns::HcnObject type, const Json& o) {
  auto str = [&](const char* k) { return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string("-"); };
  std::string line = str("ID");
  switch (type) {
    case hns::HcnObject::kNetwork: {
      line += "  " + str("Name") + "  " + str("Type");
      if (o.contains("Ipams")) {
        for (auto& ipam : o["Ipams"]) {
          for (auto& s : ipam.value("Subnets", Json::array())) line += "  " + s.value("IpAddressPrefix", "");
        }
      }
      break;
    }
    case hns::HcnObject::kEndpoint: {
      std::string ip = "-";
      if (o.contains("IpConfigurations") && !o["IpConfigurations"].empty()) {
        ip = o["IpConfigurations"][0].value("IpAddress", "-") + "/" + std::to_string(o["IpConfigurations"][0].value("PrefixLength", 0));
      }
      line += "  " + str("Name") + "  " + ip + "  " + str("MacAddress") + "  network=" + str("HostComputeNetwork");
      if (o.contains("HostComputeNamespace")) line += "  namespace=" + str("HostComputeNamespace");
      break;
    }
    case hns::HcnObject::kNamespace:
      line += "  " + str("Type") + "  compartment=" + std::to_string(o.value("NamespaceId", 0)) + "  resources=" +
              std::to_string(o.value("Resources", Json::array()).size());
      break;
    case hns::HcnObject::kLoadBalancer: {
      line += "  vips=" + o.value("FrontendVIPs", Json::array()).dump();
      for (auto& pm : o.value("PortMappings", Json::array())) {
        line += "  " + std::to_string(pm.value("Protocol", 6)) + ":" + std::to_string(pm.value("ExternalPort", 0)) + "->" +
                std::to_string(pm.value("InternalPort", 0));
      }
      line += "  endpoints=" + std::to_string(o.value("HostComputeEndpoints", Json::array()).size());
      break;
    }
    case hns::HcnObject::kRoute:
      line += "  endpoints=" + std::to_string(o.value("HostComputeEndpoints", Json::array()).size());
      for (auto& s : o.value("Setting", Json::array())) line += "  " + s.value("DestinationPrefix", "") + "->" + s.value("NextHop", "");
      break;
  }
  return line;
}

static Task<int> runCommandUnguarded(hns::HnsApi& api, std::vector<std::string> args) {
  hns::HcnClient hcn(api);
  const std::string& cmd = args[0];
  auto typeArg = [&](size_t i) -> StatusOr<hns::HcnObject> {
    if (args.size() <= i) return InvalidArgumentError("missing object type");
    return hns::parseObject(args[i]);
  };
  if (cmd == "version") {
    auto v = co_await hcn.version();
    if (!v.ok()) co_return fail(v.status());
    std::printf("%u.%u\n", v->major, v->minor);
    co_return 0;
  }
  if (cmd == "list") {
    auto type = typeArg(1);
    if (!type.ok()) co_return fail(type.status());
    schema::HostComputeQuery q;
    q.schemaVersion = schema::HcnVersion{2, 0, {}};
    if (args.size() == 4 && args[2] == "--filter") q.filter = args[3];
    std::string query = schema::encode(q).dump();
    auto ids = co_await api.enumerate(*type, query);
    if (!ids.ok()) co_return fail(ids.status());
    auto arr = parseJson(*ids);
    if (!arr.ok() || !arr->is_array()) co_return fail(InternalError("HNS returned a bad id list: " + *ids));
    for (const auto& id : *arr) {
      auto props = co_await api.query(*type, id.get<std::string>(), "");
      if (!props.ok()) continue;  // deleted meanwhile
      auto o = parseJson(*props);
      if (o.ok()) std::printf("%s\n", summary(*type, *o).c_str());
    }
    co_return 0;
  }
  if ((cmd == "show" || cmd == "policies") && args.size() == 3) {
    auto type = typeArg(1);
    if (!type.ok()) co_return fail(type.status());
    auto props = co_await api.query(*type, args[2], "");
    if (!props.ok()) co_return fail(props.status());
    auto o = parseJson(*props);
    if (!o.ok()) co_return fail(o.status());
    if (cmd == "show") {
      std::printf("%s\n", o->dump(2).c_str());
      co_return 0;
    }
    auto print = [](const Json& list, const std::string& where) {
      for (auto& p : list) {
        std::printf("%s%s  %s\n", where.c_str(), p.value("Type", "?").c_str(),
                    p.contains("Settings") ? p["Settings"].dump().c_str() : "{}");
      }
    };
    print(o->value("Policies", Json::array()), "");
    for (auto& ipam : o->value("Ipams", Json::array())) {
      for (auto& s : ipam.value("Subnets", Json::array())) print(s.value("Policies", Json::array()), s.value("IpAddressPrefix", "") + "  ");
    }
    for (auto& s : o->value("Setting", Json::array())) std::printf("SDNRoute  %s\n", s.dump().c_str());
    co_return 0;
  }
  if (cmd == "create" && args.size() >= 2) {
    auto type = typeArg(1);
    if (!type.ok()) co_return fail(type.status());
    std::string network, json;
    bool haveJson = false;
    for (size_t i = 2; i + 1 < args.size(); ++i) {
      if (args[i] == "--json") json = readDoc(args[++i]), haveJson = true;
      else if (args[i] == "--network") network = args[++i];
    }
    StatusOr<std::string> created = InvalidArgumentError("");
    if (haveJson) {
      created = co_await api.create(*type, "", network, json);
    } else if (*type == hns::HcnObject::kNetwork && (args.size() == 4 || args.size() == 6)) {
      schema::HostComputeNetwork n;
      n.name = args[2];
      n.type = args[3];
      if (args.size() == 6) {
        schema::HcnSubnet s;
        s.ipAddressPrefix = args[4];
        s.routes.push_back(schema::HcnRoute{args[5], args[4].find(':') != std::string::npos ? "::/0" : "0.0.0.0/0", {}, {}});
        n.ipams.push_back(schema::HcnIpam{"Static", {s}, {}});
      }
      auto r = co_await hcn.createNetwork(n);
      created = r.ok() ? StatusOr<std::string>(schema::encode(*r).dump()) : StatusOr<std::string>(r.status());
    } else if (*type == hns::HcnObject::kEndpoint && (args.size() == 3 || args.size() == 4)) {
      schema::HostComputeEndpoint e;
      if (args.size() == 4) e.ipConfigurations.push_back(schema::HcnIpConfig{args[3], {}, {}});
      auto r = co_await hcn.createEndpoint(args[2], e);
      created = r.ok() ? StatusOr<std::string>(schema::encode(*r).dump()) : StatusOr<std::string>(r.status());
    } else if (*type == hns::HcnObject::kNamespace && args.size() <= 3) {
      schema::HostComputeNamespace n;
      n.type = args.size() == 3 ? args[2] : "Host";
      auto r = co_await hcn.createNamespace(n);
      created = r.ok() ? StatusOr<std::string>(schema::encode(*r).dump()) : StatusOr<std::string>(r.status());
    } else {
      co_return usage();
    }
    if (!created.ok()) co_return fail(created.status());
    auto o = parseJson(*created);
    std::printf("%s\n", o.ok() ? summary(*type, *o).c_str() : created->c_str());
    co_return 0;
  }
  if ((cmd == "attach" || cmd == "detach") && args.size() == 3) {
    Status st;  // (no co_await inside ?: - GCC 12 miscompiles it)
    if (cmd == "attach") {
      st = co_await hcn.attachEndpoint(args[1], args[2]);
    } else {
      st = co_await hcn.detachEndpoint(args[1], args[2]);
    }
    if (!st.ok()) co_return fail(st);
    co_return 0;
  }
  if (cmd == "delete" && args.size() == 3) {
    auto type = typeArg(1);
    if (!type.ok()) co_return fail(type.status());
    Status st = co_await api.remove(*type, args[2]);
    if (!st.ok()) co_return fail(st);
    co_return 0;
  }
  co_return usage();
}

Task<int> runCommand(hns::HnsApi& api, std::vector<std::string> args) {
  // HNS's documents come from outside: one whose fields are not of the
  // types the output expects is an error, never a crash.
  try {
    co_return co_await runCommandUnguarded(api, std::move(args));
  } catch (const std::exception& e) {
    co_return fail(Status::fromHResult(hresult::kFail, "hnsdiag", "", std::string("HNS answered a document it cannot show: ") + e.what()));
  }
}

}  // namespace hcsshim::hnsdiag
