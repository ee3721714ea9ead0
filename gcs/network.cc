#include "gcs/network.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/common/hresult.h"
#include "src/common/log.h"

namespace hcsshim::gcs {

using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

bool isNetworkObjectId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

Status newAdapterError(const bridge::LcowNetworkAdapter& a, bool alreadyInNamespace) {
  if (!isNetworkObjectId(a.id)) return InvalidArgumentError("ID: \"" + a.id + "\" is not an adapter id");
  if (alreadyInNamespace) {
    return Status::fromHResult(hr::kAlreadyExists, "", a.id, "adapter " + a.id + " is already in namespace " + a.namespaceId);
  }
  return OkStatus();
}

Status noNicError(const bridge::LcowNetworkAdapter& a) {
  return Status::fromHResult(hr::kElementNotFound, "", a.id, "no network interface with MAC " + a.macAddress + " in the VM");
}

std::string linuxMac(std::string mac) {
  for (auto& c : mac) c = c == '-' ? ':' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return mac;
}

std::vector<bridge::LcowIpConfig> adapterAddresses(const bridge::LcowNetworkAdapter& a) {
  std::vector<bridge::LcowIpConfig> ips = a.ipConfigs;
  if (ips.empty() && a.ipAddress) ips.push_back({*a.ipAddress, a.prefixLength, {}});
  for (auto& c : ips) {
    if (!c.prefixLength) c.prefixLength = c.ipAddress.find(':') != std::string::npos ? 64 : 24;
  }
  return ips;
}

std::string resolvConfText(const bridge::LcowNetworkAdapter& a) {
  std::ostringstream resolv;
  if (a.dnsSuffix && !a.dnsSuffix->empty()) resolv << "search " << *a.dnsSuffix << "\n";
  std::stringstream servers(a.dnsServerList.value_or(""));
  std::string server;
  while (std::getline(servers, server, ',')) {
    if (!server.empty()) resolv << "nameserver " << server << "\n";
  }
  return resolv.str();
}

namespace {

Status fail(const std::string& what) { return Status::fromHResult(hr::kFail, "", "", what); }


// linkWithMac: the interface (in this thread's network namespace - asked
// through a socket, as /sys may show another namespace's) with that MAC.
std::string linkWithMac(const std::string& mac) {
  std::string found;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return found;
  struct if_nameindex* list = if_nameindex();
  for (auto* i = list; i && i->if_index != 0 && found.empty(); ++i) {
    ifreq req{};
    std::strncpy(req.ifr_name, i->if_name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFHWADDR, &req) < 0) continue;
    const auto* b = reinterpret_cast<const unsigned char*>(req.ifr_hwaddr.sa_data);
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    if (mac == text) found = i->if_name;
  }
  if (list) if_freenameindex(list);
  close(sock);
  return found;
}

// moveLink: RTM_NEWLINK with IFLA_NET_NS_FD moves interface `name` into the
// namespace open at nsFd.
Status moveLink(const std::string& name, int nsFd) {
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return errnoStatus(errno, "if_nametoindex", name);
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) return errnoStatus(errno, "socket", "netlink");
  struct {
    nlmsghdr h;
    ifinfomsg i;
    char attrs[64];
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.h.nlmsg_seq = 1;
  req.i.ifi_family = AF_UNSPEC;
  req.i.ifi_index = static_cast<int>(index);
  auto* attr = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.h.nlmsg_len));
  attr->rta_type = IFLA_NET_NS_FD;
  attr->rta_len = RTA_LENGTH(sizeof(int));
  std::memcpy(RTA_DATA(attr), &nsFd, sizeof(int));
  req.h.nlmsg_len = NLMSG_ALIGN(req.h.nlmsg_len) + RTA_ALIGN(attr->rta_len);
  Status st;
  if (send(sock, &req, req.h.nlmsg_len, 0) < 0) {
    st = errnoStatus(errno, "send", "netlink");
  } else {
    char buf[4096];
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    if (n < 0) {
      st = errnoStatus(errno, "recv", "netlink");
    } else if (n >= static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr))) && h->nlmsg_type == NLMSG_ERROR) {
      int e = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      if (e != 0) st = errnoStatus(e, "moving " + name + " into its network namespace", name);
    }
  }
  close(sock);
  return st;
}

}  // namespace

LinuxNetworkManager::LinuxNetworkManager(runtime::ProcessRunner& runner, std::string stateDir, std::string ipPath,
                                         std::string nsenterPath)
    : runner_(runner), stateDir_(std::move(stateDir)), ipPath_(std::move(ipPath)), nsenterPath_(std::move(nsenterPath)) {}

LinuxNetworkManager::~LinuxNetworkManager() { cleanup(); }

StatusOr<std::string> LinuxNetworkManager::namespacePath(const std::string& nsid) {
  if (!isNetworkObjectId(nsid)) return InvalidArgumentError("NamespaceID: \"" + nsid + "\" is not a namespace id");
  auto it = namespaces_.find(nsid);
  if (it != namespaces_.end()) return it->second.path;
  std::string dir = stateDir_ + "/netns", path = dir + "/" + nsid;
  std::error_code ec;
  fs::create_directories(dir, ec);
  { std::ofstream touch(path); }
  // A new namespace, pinned by a bind mount; this thread goes back to its own.
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return errnoStatus(errno, "open", "/proc/thread-self/ns/net");
  Status st;
  if (unshare(CLONE_NEWNET) < 0) {
    st = errnoStatus(errno, "unshare", "CLONE_NEWNET");
  } else {
    if (mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) < 0) st = errnoStatus(errno, "mount", path);
    if (setns(self, CLONE_NEWNET) < 0) {
      // Stuck in the new namespace: nothing network-related would work any more.
      HLOG(Error, "gcs.network.setns_failed").kv("error", std::strerror(errno));
      std::abort();
    }
  }
  close(self);
  if (!st.ok()) {
    fs::remove(path, ec);
    return st;
  }
  namespaces_[nsid].path = path;
  HLOG(Info, "gcs.network.namespace_created").kv("namespace", nsid).kv("path", path);
  return path;
}

std::string LinuxNetworkManager::resolvConf(const std::string& nsid) const {
  auto it = namespaces_.find(nsid);
  return it == namespaces_.end() ? "" : it->second.resolvConf;
}

Task<Status> LinuxNetworkManager::ip(std::string nsPath, std::vector<std::string> args) {
  runtime::ProcessSpec spec;
  spec.path = nsenterPath_;
  spec.args = {"nsenter", "--net=" + nsPath, ipPath_};
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  Status st = co_await runtime::runCommand(runner_, spec);
  if (!st.ok()) co_return fail(st.message());
  co_return OkStatus();
}

Task<Status> LinuxNetworkManager::addAdapter(bridge::LcowNetworkAdapter a) {
  auto path = namespacePath(a.namespaceId);
  if (!path.ok()) co_return path.status();
  Namespace& ns = namespaces_[a.namespaceId];
  HCS_CO_RETURN_IF_ERROR(newAdapterError(a, ns.adapters.count(a.id) > 0));
  std::string mac = linuxMac(a.macAddress);
  std::string dev = linkWithMac(mac);
  if (dev.empty()) co_return noNicError(a);
  int nsFd = open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (nsFd < 0) co_return errnoStatus(errno, "open", *path);
  Status moved = moveLink(dev, nsFd);
  close(nsFd);
  if (!moved.ok()) co_return moved;
  std::string name = "eth" + std::to_string(ns.nextIndex++);
  ns.adapters[a.id] = name;
  std::vector<std::vector<std::string>> steps;
  steps.push_back({"link", "set", "dev", dev, "name", name});
  steps.push_back({"link", "set", "dev", "lo", "up"});
  if (a.encapOverhead && *a.encapOverhead > 0 && *a.encapOverhead < 1500) {
    steps.push_back({"link", "set", "dev", name, "mtu", std::to_string(1500 - *a.encapOverhead)});
  }
  std::vector<bridge::LcowIpConfig> ips = adapterAddresses(a);
  for (auto& c : ips) steps.push_back({"addr", "add", c.ipAddress + "/" + std::to_string(*c.prefixLength), "dev", name});
  steps.push_back({"link", "set", "dev", name, "up"});
  std::vector<bridge::LcowRoute> routes = a.routes;
  if (routes.empty() && a.gatewayAddress) routes.push_back({*a.gatewayAddress, "0.0.0.0/0", {}, {}});
  for (auto& r : routes) {
    std::string dest = r.destinationPrefix.value_or("0.0.0.0/0");
    bool v6 = dest.find(':') != std::string::npos;
    std::vector<std::string> cmd = {"-6", "route", "add", (dest == "0.0.0.0/0" || dest == "::/0") ? "default" : dest};
    if (!v6) cmd.erase(cmd.begin());
    if (r.nextHop && !r.nextHop->empty()) cmd.insert(cmd.end(), {"via", *r.nextHop});
    cmd.insert(cmd.end(), {"dev", name});
    uint16_t metric = r.metric.value_or(0) + (a.enableLowMetric.value_or(false) ? 500 : 0);
    if (metric) cmd.insert(cmd.end(), {"metric", std::to_string(metric)});
    steps.push_back(cmd);
  }
  for (auto& step : steps) {
    Status st = co_await ip(*path, step);
    if (!st.ok()) {
      // Leave nothing half-configured: the interface goes back out of the namespace.
      (void)co_await removeAdapter(a.namespaceId, a.id);
      co_return st;
    }
  }
  std::string resolv = resolvConfText(a);
  if (!resolv.empty()) {
    ns.resolvConf = stateDir_ + "/netns/" + a.namespaceId + ".resolv.conf";
    std::ofstream(ns.resolvConf) << resolv;
  }
  HLOG(Info, "gcs.network.adapter_added").kv("namespace", a.namespaceId).kv("adapter", a.id).kv("interface", name)
      .kv("mac", a.macAddress).kv("ip", ips.empty() ? "" : ips[0].ipAddress);
  co_return OkStatus();
}

Task<Status> LinuxNetworkManager::removeAdapter(std::string nsid, std::string adapterId) {
  auto it = namespaces_.find(nsid);
  if (it == namespaces_.end() || !it->second.adapters.count(adapterId)) {
    co_return Status::fromHResult(hr::kElementNotFound, "", adapterId, "adapter " + adapterId + " is not in namespace " + nsid);
  }
  std::string path = it->second.path, name = it->second.adapters[adapterId];
  it->second.adapters.erase(adapterId);
  // Back to the VM's own namespace (PID 1's), under a name that cannot clash there.
  std::string parked = "gcs" + adapterId.substr(0, std::min<size_t>(8, adapterId.size()));
  // (Argument lists built outside co_await: GCC 12 miscompiles braced lists there.)
  std::vector<std::vector<std::string>> steps = {{"link", "set", "dev", name, "down"},
                                                 {"link", "set", "dev", name, "name", parked},
                                                 {"link", "set", "dev", parked, "netns", "1"}};
  Status st;
  for (size_t i = 0; i < steps.size() && st.ok(); ++i) st = co_await ip(path, steps[i]);
  HLOG(Info, "gcs.network.adapter_removed").kv("namespace", nsid).kv("adapter", adapterId).kv("ok", st.ok());
  co_return st;
}

void LinuxNetworkManager::cleanup() {
  std::error_code ec;
  for (auto& [id, ns] : namespaces_) {
    umount2(ns.path.c_str(), MNT_DETACH);
    fs::remove(ns.path, ec);
    if (!ns.resolvConf.empty()) fs::remove(ns.resolvConf, ec);
  }
  namespaces_.clear();
}

}  // namespace hcsshim::gcs
