// agent.h: the guest agent's bridge server.
//
// The agent dials the host's bridge port, serves requests until the
// connection drops, then re-dials every redialInterval - containers and
// processes live on across reconnections. Every request gets a response:
// unknown types E_NOTIMPL, undecodable JSON E_INVALIDARG naming the field,
// unknown containers/processes a not-found HRESULT. A frame with an
// impossible size drops the connection (framing is lost) and the agent
// re-dials.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gcs/container_runtime.h"
#include "gcs/host_dialer.h"
#include "gcs/network.h"
#include "gcs/storage.h"
#include "src/bridge/messages.h"
#include "src/bridge/protocol.h"
#include "src/runtime/runtime.h"

namespace hcsshim::gcs {

struct AgentOptions {
  std::string stateDir = "/run/gcs";  // bundles under <stateDir>/c/<id>
  std::vector<std::string> mountRoots = {"/run"};
  // Where Plan9 shares appear when the agent runs on the host (simulation):
  // share NAME is the directory <plan9Root>/NAME. Empty: 9p mounts (in a VM).
  std::string plan9Root;
  // Where hot-added disks appear when the agent runs on the host
  // (simulation): SCSI controller C, LUN L is the image or device
  // <scsiRoot>/C/L; VPMem device N is <pmemRoot>/N. Empty: a VM's
  // /sys/bus/scsi and /dev/pmemN.
  std::string scsiRoot;
  std::string pmemRoot;
  std::string cgroupRoot = "/sys/fs/cgroup";
  std::string sysRoot = "/sys";  // where the VM's kernel shows devices (devices.h)
  // modulesLoading: a file that exists while the VM's init still loads the
  // drivers storage and network requests need (gcs/init); they wait for it
  // to go (up to 20 s). Absent (simulation): nothing to wait for.
  std::string modulesLoading = "/run/gcs-modules.loading";
  // Containers get cgroup <cgroupParent>/gcs/<id> ("" in a VM; the VM's own
  // cgroup in simulation, so its limits cover them).
  std::string cgroupParent;
  runtime::Duration redialInterval = std::chrono::milliseconds(100);
  // exitOnBridgeEof: a lost bridge ends the agent with an error (hcsshim's
  // guest agent does this: "bridge: failed reading message header: EOF",
  // exit 1) instead of redialling. Tests use it to check that the host shuts
  // the VM down before it hangs up.
  bool exitOnBridgeEof = false;
  // fsRoot: where the guest's "/" is ("" in a VM). An agent that runs inside
  // a test's process (hcs_fake/testing) keeps every host-named path - mount
  // points, container roots - under this directory.
  std::string fsRoot;
};

struct AgentState;

class Agent {
 public:
  // network: the guest's network configurator (null: Network requests and
  // containers asking for a network namespace answer E_NOTIMPL).
  Agent(runtime::Runtime& rt, HostDialer& dialer, ContainerRuntime& containers, Mounter& mounter,
        AgentOptions options, NetworkManager* network = nullptr);
  ~Agent();

  // run dials and serves until stop() or the host shuts the UVM down
  // (Shutdown of the UVM's own id); then shuts every container down.
  runtime::Task<void> run();
  // shutdownRequested: run() ended because the host shut the UVM down.
  bool shutdownRequested() const;
  // failed: run() ended because the bridge was lost and exitOnBridgeEof is set.
  bool failed() const;
  void stop();

  size_t connections() const;  // how many bridge connections were served so far
  bool bridgeConnected() const;  // a bridge connection is up now
  size_t containerCount() const;
  size_t processCount() const;

 private:
  std::shared_ptr<AgentState> s_;
};

}  // namespace hcsshim::gcs
