// plugin.h: hcn-nat, a CNI plugin that gives a pod its network from HNS -
// the part Microsoft's nat / sdnbridge plugins play on a Windows host. A
// pod's network is an HCN endpoint in an HCN network, attached to an HCN
// namespace; the runhcs shim plugs that namespace's endpoints into the
// pod's utility VM. containerd's CRI on Linux names the pod's network by a
// Linux netns path (CNI_NETNS); the namespace for it is the HCN namespace
// hns::namespaceForNetns(CNI_NETNS), which is how the shim finds it.
//
// CNI (spec 1.0.0, results also in 0.3.0/0.3.1/0.4.0 form):
//   ADD    the network (made if missing, NAT over the config's subnet), an
//          endpoint named <CNI_CONTAINERID>_<CNI_IFNAME>, the namespace, the
//          endpoint attached; the result names the interface, its MAC and
//          address. A failed ADD leaves nothing behind.
//   CHECK  the endpoint exists and is in the namespace, else an error.
//   DEL    detach, delete the endpoint, and the namespace once it is empty;
//          whatever is already gone is not an error.
//   VERSION  the versions supported.
// Errors are CNI's error object on stdout ({cniVersion, code, msg,
// details}) with exit status 1: 4 invalid environment, 6 undecodable
// config, 7 invalid config, 1 unsupported version, 3 unknown container
// (CHECK), 11 try again later (HNS unreachable), 999 an HNS error.
//
// Network config (the .conflist entry):
//   {"cniVersion": "1.0.0", "name": "pods", "type": "hcn-nat",
//    "network": "pods",                     HCN network name (default: name)
//    "ipam": {"subnet": "10.98.0.0/24", "gateway": "10.98.0.1"},
//    "dns": {"nameservers": ["10.98.0.10"], "search": ["cluster.local"]}}
// and, with the portMappings capability, the runtime's
//   "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
// each of which becomes a PortMapping policy of the endpoint (HNS's NAT
// forwards the host port to the endpoint's), as the Windows nat plugin does.
#pragma once

#include <map>
#include <string>

#include "src/hns/hns_api.h"
#include "src/runtime/task.h"

namespace hcsshim::cni {

struct Request {
  std::map<std::string, std::string> env;  // CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, ...
  std::string config;                     // stdin
};

struct Response {
  int exitCode = 0;
  std::string stdout;  // the result, the version answer or the error object
};

// run carries out one plugin invocation against HNS.
runtime::Task<Response> run(Request req, hns::HnsApi& hns);

// versionResponse: the answer to VERSION (which needs no HNS).
Response versionResponse();

// Error codes of the CNI spec this plugin uses.
enum ErrorCode : int {
  kIncompatibleVersion = 1,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kDecodeFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  kHnsError = 999,
};

// errorResponse: CNI's error object.
Response errorResponse(const std::string& cniVersion, int code, const std::string& msg,
                       const std::string& details = "");

}  // namespace hcsshim::cni
