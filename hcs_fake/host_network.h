// host_network.h: the host side of a VM's NICs, shared by the VM backends:
// each HNS network is a Linux bridge (hcsbr<network id's first 8 hex
// digits>) created with its first port and deleted with its last; a port is
// the host end of a NIC (the sim backend's veth, the qemu backend's tap).
// Every change runs `ip` through the runtime's process runner.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/runtime.h"

namespace hcsshim::hcs_fake {

// hexId: the first 8 hex digits of a GUID-ish id (interface names have at most 15 bytes).
std::string hexId(const std::string& id);
// colonMac: an HNS MAC (00-15-5D-..) as Linux writes it (00:15:5d:..).
std::string colonMac(std::string mac);
// bridgeFor: the bridge of HNS network `networkId`.
inline std::string bridgeFor(const std::string& networkId) { return "hcsbr" + hexId(networkId); }

class HostBridges {
 public:
  HostBridges(runtime::Runtime& rt, std::string ipPath) : rt_(rt), ipPath_(std::move(ipPath)) {}
  // ip runs `ip ARGS...`; E_FAIL with its error output.
  runtime::Task<Status> ip(std::vector<std::string> args);
  // plug puts the existing link `port` on `bridge` (created with its first
  // port) and brings it up.
  runtime::Task<Status> plug(std::string port, std::string bridge);
  // unplug takes `port` off (deleting the link when deleteLink), and the
  // bridge with its last port.
  runtime::Task<Status> unplug(std::string port, std::string bridge, bool deleteLink);
  // release does what unplug does without waiting (the daemon's exit path).
  void release(const std::string& port, const std::string& bridge, bool deleteLink);

 private:
  runtime::Runtime& rt_;
  std::string ipPath_;
  std::map<std::string, int> ports_;  // bridge -> ports on it
};

}  // namespace hcsshim::hcs_fake
