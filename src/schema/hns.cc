#include "src/schema/hns.h"

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

#include <cstdio>

namespace hcsshim::schema {

namespace {

Status checkOneOf(const std::string& path, const std::string& value, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return OkStatus();
    list += list.empty() ? a : std::string("|") + a;
  }
  return InvalidArgumentError(path + ": \"" + value + "\" is not one of " + list);
}

Status checkAddressList(const std::string& path, const std::optional<std::string>& list) {
  if (!list || list->empty()) return OkStatus();
  size_t start = 0;
  while (start <= list->size()) {
    size_t comma = list->find(',', start);
    std::string item = list->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool ok = item.find('/') != std::string::npos ? parsePrefix(item).ok() : parseIp(item).ok();
    if (!ok) return InvalidArgumentError(path + ": \"" + item + "\" is not an address or prefix");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return OkStatus();
}

template <typename T>
StatusOr<Json> roundTrip(const Json& policy, const std::string& path) {
  auto p = decode<T>(policy, path);
  if (!p.ok()) return p.status();
  return encode(*p);
}

}  // namespace

Status checkAclValues(const std::string& path, const std::string& action, const std::string& direction,
                      const std::optional<std::string>& ruleType) {
  HCS_RETURN_IF_ERROR(checkOneOf(path + ".Action", action, {kActionAllow, kActionBlock}));
  HCS_RETURN_IF_ERROR(checkOneOf(path + ".Direction", direction, {kDirectionIn, kDirectionOut}));
  if (ruleType) HCS_RETURN_IF_ERROR(checkOneOf(path + ".RuleType", *ruleType, {kRuleHost, kRuleSwitch}));
  return OkStatus();
}

StatusOr<Json> validateV1Policy(const Json& policy, const std::string& path) {
  if (!policy.is_object()) return InvalidArgumentError(path + ": a policy must be an object");
  auto t = policy.find("Type");
  if (t == policy.end() || !t->is_string()) return InvalidArgumentError(path + ".Type: missing");
  std::string type = t->get<std::string>();
  if (type == v1policy::kNat) {
    auto p = decode<NatPolicy>(policy, path);
    if (!p.ok()) return p.status();
    if (p->protocol) HCS_RETURN_IF_ERROR(checkOneOf(path + ".Protocol", *p->protocol, {"TCP", "UDP", "tcp", "udp"}));
    return encode(*p);
  }
  if (type == v1policy::kAcl) {
    auto p = decode<AclPolicy>(policy, path);
    if (!p.ok()) return p.status();
    HCS_RETURN_IF_ERROR(checkAclValues(path, p->action, p->direction, p->ruleType));
    HCS_RETURN_IF_ERROR(checkAddressList(path + ".LocalAddresses", p->localAddresses));
    HCS_RETURN_IF_ERROR(checkAddressList(path + ".RemoteAddresses", p->remoteAddresses));
    return encode(*p);
  }
  if (type == v1policy::kPa) {
    auto p = decode<PaPolicy>(policy, path);
    if (!p.ok()) return p.status();
    if (!parseIp(p->pa).ok()) return InvalidArgumentError(path + ".PA: \"" + p->pa + "\" is not an IP address");
    return encode(*p);
  }
  if (type == v1policy::kVlan) {
    auto p = decode<VlanPolicy>(policy, path);
    if (!p.ok()) return p.status();
    if (p->vlan == 0 || p->vlan > 4094) return InvalidArgumentError(path + ".VLAN: want 1..4094, got " + std::to_string(p->vlan));
    return encode(*p);
  }
  if (type == v1policy::kVsid) {
    auto p = decode<VsidPolicy>(policy, path);
    if (!p.ok()) return p.status();
    if (p->vsid < 4096 || p->vsid > 16777215) {
      return InvalidArgumentError(path + ".VSID: want 4096..16777215, got " + std::to_string(p->vsid));
    }
    return encode(*p);
  }
  if (type == v1policy::kVNet || type == "VNet") {
    auto p = decode<GenericPolicy>(policy, path);
    if (!p.ok()) return p.status();
    p->type = v1policy::kVNet;
    return encode(*p);
  }
  if (type == v1policy::kL2Driver) return roundTrip<GenericPolicy>(policy, path);
  if (type == v1policy::kIsolation) return roundTrip<IsolationPolicy>(policy, path);
  if (type == v1policy::kQos) return roundTrip<QosPolicy>(policy, path);
  if (type == v1policy::kOutboundNat) {
    auto p = decode<OutboundNatPolicy>(policy, path);
    if (!p.ok()) return p.status();
    if (p->vip && !parseIp(*p->vip).ok()) return InvalidArgumentError(path + ".VIP: \"" + *p->vip + "\" is not an IP address");
    for (size_t i = 0; i < p->exceptions.size(); ++i) {
      HCS_RETURN_IF_ERROR(checkAddressList(path + ".ExceptionList[" + std::to_string(i) + "]", p->exceptions[i]));
    }
    return encode(*p);
  }
  if (type == v1policy::kElb) {
    auto p = decode<ElbPolicy>(policy, path);
    if (!p.ok()) return p.status();
    if (p->sourceVip && !parseIp(*p->sourceVip).ok()) {
      return InvalidArgumentError(path + ".SourceVIP: \"" + *p->sourceVip + "\" is not an IP address");
    }
    for (auto& vip : p->vips) {
      if (!parseIp(vip).ok()) return InvalidArgumentError(path + ".VIPs: \"" + vip + "\" is not an IP address");
    }
    return encode(*p);
  }
  if (type == v1policy::kRoute) {
    auto p = decode<RoutePolicy>(policy, path);
    if (!p.ok()) return p.status();
    if (p->destinationPrefix && !parsePrefix(*p->destinationPrefix).ok()) {
      return InvalidArgumentError(path + ".DestinationPrefix: \"" + *p->destinationPrefix + "\" is not a prefix");
    }
    if (p->nextHop && !parseIp(*p->nextHop).ok()) {
      return InvalidArgumentError(path + ".NextHop: \"" + *p->nextHop + "\" is not an IP address");
    }
    return encode(*p);
  }
  if (type == v1policy::kProxy) return roundTrip<ProxyPolicy>(policy, path);
  return InvalidArgumentError(path + ".Type: unknown policy type \"" + type + "\"");
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, buf, sizeof buf);
  return buf;
}

StatusOr<IpAddress> parseIp(const std::string& text) {
  IpAddress a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, text.c_str(), a.bytes) == 1) return a;
  return InvalidArgumentError("\"" + text + "\" is not an IP address");
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.v6 != address.v6) return false;
  for (int bit = 0; bit < length; ++bit) {
    int byte = bit / 8, mask = 0x80 >> (bit % 8);
    if ((a.bytes[byte] & mask) != (address.bytes[byte] & mask)) return false;
  }
  return true;
}

StatusOr<IpPrefix> parsePrefix(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) return InvalidArgumentError("\"" + text + "\" is not a prefix (address/length)");
  auto a = parseIp(text.substr(0, slash));
  if (!a.ok()) return InvalidArgumentError("\"" + text + "\" is not a prefix: " + a.status().message());
  std::string len = text.substr(slash + 1);
  int max = a->v6 ? 128 : 32;
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos || std::stoi(len) > max) {
    return InvalidArgumentError("\"" + text + "\" is not a prefix: length must be 0.." + std::to_string(max));
  }
  IpPrefix p{*a, std::stoi(len)};
  for (int bit = p.length; bit < max; ++bit) {
    if (p.address.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return InvalidArgumentError("\"" + text + "\" is not a prefix: host bits are set");
    }
  }
  return p;
}

StatusOr<uint64_t> parseMac(const std::string& text) {
  if (text.size() != 17) return InvalidArgumentError("\"" + text + "\" is not a MAC address");
  uint64_t mac = 0;
  for (size_t i = 0; i < 17; ++i) {
    char c = text[i];
    if (i % 3 == 2) {
      if (c != '-' && c != ':') return InvalidArgumentError("\"" + text + "\" is not a MAC address");
      continue;
    }
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (v < 0) return InvalidArgumentError("\"" + text + "\" is not a MAC address");
    mac = (mac << 4) | static_cast<uint64_t>(v);
  }
  return mac;
}

std::string formatMac(uint64_t mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02X-%02X-%02X-%02X-%02X-%02X", static_cast<unsigned>((mac >> 40) & 0xff),
                static_cast<unsigned>((mac >> 32) & 0xff), static_cast<unsigned>((mac >> 24) & 0xff),
                static_cast<unsigned>((mac >> 16) & 0xff), static_cast<unsigned>((mac >> 8) & 0xff),
                static_cast<unsigned>(mac & 0xff));
  return buf;
}

}  // namespace hcsshim::schema
