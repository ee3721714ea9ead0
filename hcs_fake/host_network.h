// host_network.h: the host side of a VM's NICs, shared by the VM backends:
// each HNS network is a Linux bridge (hcsbr<network id's first 8 hex
// digits>) created with its first port and deleted with its last; a port is
// the host end of a NIC (the sim backend's veth, the qemu backend's tap).
//
// A NAT network is what WinNAT makes of it on Windows: the host has the
// network's gateway address (the "vEthernet (nat)" adapter's; here the
// bridge's - skipped, and logged, when a route on the host already covers
// the subnet), and each PortMapping policy of an endpoint whose NIC is
// plugged forwards the host's ExternalPort (any host address but loopback,
// as WinNAT; VIP: that address only) to the endpoint's InternalPort. The
// forwarding is one nftables table of the daemon's own (`natTable`, written
// whole with every change, deleted with the last mapping).
// Every change runs `ip` or `nft` through the runtime's process runner.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/runtime.h"
#include "src/schema/hns.h"

namespace hcsshim::hcs_fake {

// hexId: the first 8 hex digits of a GUID-ish id (interface names have at most 15 bytes).
std::string hexId(const std::string& id);
// colonMac: an HNS MAC (00-15-5D-..) as Linux writes it (00:15:5d:..).
std::string colonMac(std::string mac);
// bridgeFor: the bridge of HNS network `networkId`.
inline std::string bridgeFor(const std::string& networkId) { return "hcsbr" + hexId(networkId); }

// PortForward: a PortMapping policy as the host forwards it.
struct PortForward {
  uint32_t protocol = 6;  // 6 TCP, 17 UDP
  uint16_t externalPort = 0;
  uint16_t internalPort = 0;
  std::string vip;  // "": every host address but loopback
  bool operator==(const PortForward&) const = default;
};

// EndpointNic: what a backend needs of an HNS endpoint to plug its NIC in.
struct EndpointNic {
  std::string networkId;
  std::string macAddress;   // HNS style 00-15-5D-..
  std::string hostAddress;  // NAT networks: the gateway with the subnet's prefix ("10.0.0.1/24"); else ""
  std::string ipAddress;    // the endpoint's first IPv4 address ("" for none)
  std::vector<PortForward> forwards;  // NAT networks with an address: the endpoint's PortMapping policies
};

// endpointNic: an endpoint of `network` as the host plugs it.
EndpointNic endpointNic(const schema::HostComputeEndpoint& ep, const schema::HostComputeNetwork& network);

// natRuleset: the nftables script that replaces table `table` with one
// forwarding every (endpoint address, forward) pair; with none, the script
// only deletes the table.
std::string natRuleset(const std::string& table, const std::vector<std::pair<std::string, PortForward>>& forwards);

// routeCovers: whether `ip -4 -o route show` output (`routes`) has a route
// other than the default one and other than `bridge`'s own that covers or
// falls inside `prefix` (so that giving `bridge` an address in it would
// take traffic from the host).
bool routeCovers(const std::string& routes, const std::string& prefix, const std::string& bridge);

class HostBridges {
 public:
  HostBridges(runtime::Runtime& rt, std::string ipPath, std::string nftPath = "nft", std::string natTable = "hcs-fake")
      : rt_(rt), ipPath_(std::move(ipPath)), nftPath_(std::move(nftPath)), natTable_(std::move(natTable)) {}
  // ip runs `ip ARGS...`; E_FAIL with its error output.
  runtime::Task<Status> ip(std::vector<std::string> args);
  // plug puts the existing link `port` on the bridge of nic's network
  // (created with its first port, with the host's address on a NAT
  // network) and brings it up; then the endpoint's port forwards start.
  runtime::Task<Status> plug(std::string port, EndpointNic nic);
  // unplug takes `port` off (deleting the link when deleteLink), and the
  // bridge with its last port.
  runtime::Task<Status> unplug(std::string port, std::string bridge, bool deleteLink);
  // release does what unplug does without waiting (the daemon's exit path).
  void release(const std::string& port, const std::string& bridge, bool deleteLink);

 private:
  runtime::Task<StatusOr<std::string>> output(std::string path, std::vector<std::string> args);
  runtime::Task<Status> addHostAddress(const std::string& bridge, const std::string& address);
  std::string ruleset() const;
  void detached(const std::string& path, std::vector<std::string> args);

  runtime::Runtime& rt_;
  std::string ipPath_, nftPath_, natTable_;
  std::map<std::string, int> ports_;  // bridge -> ports on it
  std::map<std::string, std::pair<std::string, std::vector<PortForward>>> forwards_;  // port -> endpoint address, forwards
};

// removeDeadDaemonNat: deletes the nftables tables "<prefix><owner>" of
// daemons that died without deleting them (`gone(owner)`: owner.h). A
// daemon runs it when it starts; without nft it does nothing. Returns the
// owners whose table could not be deleted.
runtime::Task<std::set<std::string>> removeDeadDaemonNat(runtime::Runtime& rt, std::string nftPath, std::string prefix,
                                                         std::function<bool(const std::string& owner)> gone);

}  // namespace hcsshim::hcs_fake
