#include "hcs_fake/host_network.h"

#include <arpa/inet.h>

#include <cctype>
#include <sstream>

#include "src/common/log.h"

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace hr = hresult;

std::string hexId(const std::string& id) {
  std::string out;
  for (char c : id) {
    if (std::isxdigit(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (out.size() == 8) break;
  }
  return out;
}

std::string colonMac(std::string mac) {
  for (auto& c : mac) c = c == '-' ? ':' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return mac;
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ipv4: an address (host order) or nullopt.
std::optional<uint32_t> ipv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

// prefix4: "a.b.c.d/n" (a bare address is /32) as (address, length).
std::optional<std::pair<uint32_t, int>> prefix4(const std::string& text) {
  size_t slash = text.find('/');
  auto addr = ipv4(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int len = 32;
  if (slash != std::string::npos) {
    std::string n = text.substr(slash + 1);
    if (n.empty() || n.size() > 2 || n.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    len = std::stoi(n);
    if (len > 32) return std::nullopt;
  }
  return std::make_pair(*addr, len);
}

bool inPrefix(uint32_t addr, std::pair<uint32_t, int> p) {
  if (p.second == 0) return true;
  uint32_t mask = p.second == 32 ? 0xffffffffu : ~(0xffffffffu >> p.second);
  return (addr & mask) == (p.first & mask);
}

// natGateway: a NAT network's gateway for `ip` (the subnet holding it, else
// the first IPv4 subnet) with that subnet's prefix length, or "".
std::string natGateway(const schema::HostComputeNetwork& network, const std::string& ip) {
  auto addr = ipv4(ip);
  const schema::HcnSubnet* chosen = nullptr;
  for (const auto& ipam : network.ipams) {
    for (const auto& sub : ipam.subnets) {
      auto p = prefix4(sub.ipAddressPrefix.value_or(""));
      if (!p) continue;
      if (!chosen || (addr && inPrefix(*addr, *p))) chosen = &sub;
      if (addr && inPrefix(*addr, *p)) break;
    }
  }
  if (!chosen) return "";
  for (const auto& r : chosen->routes) {
    if (r.nextHop && ipv4(*r.nextHop)) return *r.nextHop + "/" + std::to_string(prefix4(*chosen->ipAddressPrefix)->second);
  }
  return "";
}

}  // namespace

EndpointNic endpointNic(const schema::HostComputeEndpoint& ep, const schema::HostComputeNetwork& network) {
  EndpointNic nic{ep.hostComputeNetwork.value_or(""), ep.macAddress.value_or(""), "", "", {}};
  for (const auto& c : ep.ipConfigurations) {
    if (c.ipAddress && ipv4(*c.ipAddress)) {
      nic.ipAddress = *c.ipAddress;
      break;
    }
  }
  if (lower(network.type.value_or("")) != "nat") return nic;
  nic.hostAddress = natGateway(network, nic.ipAddress);
  if (nic.hostAddress.empty() || nic.ipAddress.empty()) return nic;
  for (const auto& p : ep.policies) {
    if (p.type != schema::endpointpolicy::kPortMapping) continue;
    // HNS validated the settings when the endpoint was made.
    Json settings = p.settings.is_object() ? p.settings : Json::object();
    auto s = schema::decode<schema::PortMappingPolicySetting>(settings, "Settings");
    if (!s.ok() || !s->externalPort || *s->externalPort == 0) continue;
    PortForward f{s->protocol.value_or(6), *s->externalPort, s->internalPort.value_or(*s->externalPort), s->vip.value_or("")};
    if (f.internalPort == 0) f.internalPort = f.externalPort;
    if ((f.protocol != 6 && f.protocol != 17) || (!f.vip.empty() && !ipv4(f.vip))) continue;  // IPv6 VIPs: not forwarded
    nic.forwards.push_back(f);
  }
  return nic;
}

std::string natRuleset(const std::string& table, const std::vector<std::pair<std::string, PortForward>>& forwards) {
  std::ostringstream o;
  o << "table ip " << table << " {}\ndelete table ip " << table << "\n";
  if (forwards.empty()) return o.str();
  auto rule = [](const std::string& ip, const PortForward& f) {
    return std::string(f.protocol == 17 ? "udp" : "tcp") + " dport " + std::to_string(f.externalPort) + " dnat to " + ip + ":" +
           std::to_string(f.internalPort);
  };
  o << "table ip " << table << " {\n"
    << "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n";
  for (const auto& [ip, f] : forwards) {
    o << "    " << (f.vip.empty() ? "fib daddr type local " : "ip daddr " + f.vip + " ") << rule(ip, f) << "\n";
  }
  o << "  }\n  chain output {\n    type nat hook output priority -100; policy accept;\n";
  for (const auto& [ip, f] : forwards) {
    o << "    " << (f.vip.empty() ? "ip daddr != 127.0.0.0/8 fib daddr type local " : "ip daddr " + f.vip + " ") << rule(ip, f)
      << "\n";
  }
  o << "  }\n}\n";
  return o.str();
}

bool routeCovers(const std::string& routes, const std::string& prefix, const std::string& bridge) {
  auto ours = prefix4(prefix);
  if (!ours) return false;
  std::istringstream in(routes);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.empty() || w[0] == "default") continue;
    bool onBridge = false;
    for (size_t i = 0; i + 1 < w.size(); ++i) onBridge = onBridge || (w[i] == "dev" && w[i + 1] == bridge);
    if (onBridge) continue;
    auto dest = prefix4(w[0]);
    if (!dest && w.size() > 1) dest = prefix4(w[1]);  // "unreachable 10.0.0.0/8", "blackhole ..."
    if (!dest) continue;
    int common = std::min(dest->second, ours->second);
    if (inPrefix(dest->first, {ours->first, common})) return true;
  }
  return false;
}

Task<StatusOr<std::string>> HostBridges::output(std::string path, std::vector<std::string> args) {
  runtime::ProcessSpec spec;
  spec.path = path;
  spec.args = std::move(args);
  spec.stdoutMode = runtime::StdioMode::kPipe;
  spec.stderrMode = runtime::StdioMode::kNull;
  auto p = rt_.processes().spawn(spec);
  if (!p.ok()) co_return p.status();
  auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
  runtime::ExitStatus code = co_await (*p)->wait();
  if (!out.ok()) co_return out.status();
  if (code.exitCode != 0 || code.signaled()) {
    co_return Status::fromHResult(hr::kFail, "Modify", "", spec.args[0] + " exited with " + std::to_string(code.exitCode));
  }
  co_return std::move(*out);
}

Task<Status> HostBridges::addHostAddress(const std::string& bridge, const std::string& address) {
  std::vector<std::string> show = {"ip", "-4", "-o", "route", "show"};
  auto routes = co_await output(ipPath_, show);
  if (!routes.ok()) co_return routes.status();
  if (routeCovers(*routes, address, bridge)) {
    HLOG(Info, "hcs_fake.nat.host_address_skipped").kv("bridge", bridge).kv("address", address)
        .kv("reason", "a route on the host covers the network's subnet");
    co_return OkStatus();
  }
  std::vector<std::string> add = {"addr", "add", address, "dev", bridge};
  Status st = co_await ip(add);
  if (!st.ok() && st.message().find("File exists") == std::string::npos) co_return st;
  HLOG(Info, "hcs_fake.nat.host_address").kv("bridge", bridge).kv("address", address);
  co_return OkStatus();
}

std::string HostBridges::ruleset() const {
  std::vector<std::pair<std::string, PortForward>> all;
  for (const auto& [port, f] : forwards_) {
    for (const auto& one : f.second) all.emplace_back(f.first, one);
  }
  return natRuleset(natTable_, all);
}

void HostBridges::detached(const std::string& path, std::vector<std::string> args) {
  runtime::ProcessSpec spec;
  spec.path = path;
  spec.args = std::move(args);
  spec.stderrMode = runtime::StdioMode::kNull;
  spec.killOnParentDeath = false;
  (void)rt_.processes().spawn(spec);
}

Task<Status> HostBridges::ip(std::vector<std::string> args) {
  runtime::ProcessSpec spec;
  spec.path = ipPath_;
  spec.args = {"ip"};
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  Status st = co_await runtime::runCommand(rt_.processes(), spec);
  if (!st.ok()) co_return Status::fromHResult(hr::kFail, "Modify", "", st.message());
  co_return OkStatus();
}

Task<Status> HostBridges::plug(std::string port, EndpointNic nic) {
  const std::string bridge = bridgeFor(nic.networkId);
  if (ports_[bridge]++ == 0) {
    std::vector<std::string> mk = {"link", "add", bridge, "type", "bridge"};
    Status st = co_await ip(mk);
    if (!st.ok() && st.message().find("File exists") == std::string::npos) {
      if (--ports_[bridge] <= 0) ports_.erase(bridge);
      co_return st;
    }
    std::vector<std::string> up = {"link", "set", "dev", bridge, "up"};
    (void)co_await ip(up);
  }
  std::vector<std::string> master = {"link", "set", "dev", port, "master", bridge};
  Status st = co_await ip(master);
  if (st.ok()) {
    std::vector<std::string> up = {"link", "set", "dev", port, "up"};
    st = co_await ip(up);
  }
  if (st.ok() && !nic.hostAddress.empty()) st = co_await addHostAddress(bridge, nic.hostAddress);
  if (st.ok() && !nic.forwards.empty()) {
    forwards_[port] = {nic.ipAddress, nic.forwards};
    runtime::ProcessSpec apply{.path = nftPath_, .args = {"nft", ruleset()}};
    st = co_await runtime::runCommand(rt_.processes(), apply);
    if (!st.ok()) {
      forwards_.erase(port);
      st = Status::fromHResult(hr::kFail, "Modify", "", "port mappings of " + nic.ipAddress + " (nft): " + st.message());
    } else {
      HLOG(Info, "hcs_fake.nat.forwards").kv("port", port).kv("address", nic.ipAddress).kv("count", nic.forwards.size())
          .kv("table", natTable_);
    }
  }
  if (!st.ok() && --ports_[bridge] <= 0) {
    ports_.erase(bridge);
    std::vector<std::string> del = {"link", "del", bridge};
    (void)co_await ip(del);
  }
  co_return st;
}

Task<Status> HostBridges::unplug(std::string port, std::string bridge, bool deleteLink) {
  if (forwards_.erase(port)) {
    runtime::ProcessSpec apply{.path = nftPath_, .args = {"nft", ruleset()}};
    Status st = co_await runtime::runCommand(rt_.processes(), apply);
    if (!st.ok()) HLOG(Warn, "hcs_fake.nat.unforward_failed").kv("port", port).kv("error", st.message());
  }
  if (deleteLink) {
    std::vector<std::string> del = {"link", "del", port};
    Status st = co_await ip(del);  // a veth's other end goes with it
    if (!st.ok() && st.message().find("Cannot find device") == std::string::npos) co_return st;
  }
  if (--ports_[bridge] <= 0) {
    ports_.erase(bridge);
    std::vector<std::string> del = {"link", "del", bridge};
    (void)co_await ip(del);
  }
  co_return OkStatus();
}

void HostBridges::release(const std::string& port, const std::string& bridge, bool deleteLink) {
  if (forwards_.erase(port)) detached(nftPath_, {"nft", ruleset()});
  if (deleteLink) detached(ipPath_, {"ip", "link", "del", port});
  if (--ports_[bridge] <= 0) {
    ports_.erase(bridge);
    detached(ipPath_, {"ip", "link", "del", bridge});
  }
}

Task<std::set<std::string>> removeDeadDaemonNat(runtime::Runtime& rt, std::string nftPath, std::string prefix,
                                                std::function<bool(const std::string& owner)> gone) {
  std::set<std::string> left;
  runtime::ProcessSpec spec{.path = nftPath, .args = {"nft", "list", "tables"}};
  spec.stdoutMode = runtime::StdioMode::kPipe;
  spec.stderrMode = runtime::StdioMode::kNull;
  auto p = rt.processes().spawn(spec);
  if (!p.ok()) co_return left;  // no nftables: nothing of ours can be there
  auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
  (void)co_await (*p)->wait();
  if (!out.ok()) co_return left;
  std::istringstream in(*out);
  for (std::string line; std::getline(in, line);) {
    const std::string head = "table ip " + prefix;
    if (line.rfind(head, 0) != 0) continue;
    std::string owner = line.substr(head.size());
    if (!gone(owner)) continue;
    runtime::ProcessSpec del{.path = nftPath, .args = {"nft", "delete", "table", "ip", prefix + owner}};
    Status st = co_await runtime::runCommand(rt.processes(), del);
    if (!st.ok()) left.insert(owner);
    HLOG(Info, "hcs_fake.nat.stale_removed").kv("table", prefix + owner).kv("error", st.ok() ? "" : st.message());
  }
  co_return left;
}

}  // namespace hcsshim::hcs_fake
