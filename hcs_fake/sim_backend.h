// sim_backend.h: the `sim` VM backend - a VirtualMachine's guest is the real
// `gcs` binary running as a host process in its own pid/mount/UTS/IPC
// namespaces and its own cgroup, wired to the VM's hybrid vsock sockets.
//
// Per VM (id X; V = platforms::hybridVsockPath(vsockRoot, X), a digest of X):
//   V_<port>                    host listeners the guest dials (hybrid vsock)
//   V                           the VMM's socket: the host says "CONNECT <port>\n"
//                               to reach a guest listener, which in simulation
//                               is the unix socket V.guest_<port>
//   <vmRoot>/X/scsi/<c>/<lun>   hot-added SCSI disks (symlinks to the images)
//   <vmRoot>/X/pmem/<n>         VPMem devices
//   <vmRoot>/X/shares/<name>    Plan9 shares (symlinks to the directories)
//   cgroup <cgroupParent>/X     memory limit = SizeInMB, CPU quota = Count
// The guest follows the LCOW boot sequence (entropy on port 1, its log on
// port 109, then the bridge on 0x40000000); whoever drives the VM (src/uvm)
// listens on those ports before Start. A guest that dies on its own is
// reported as SystemExited/UnexpectedExit.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "hcs_fake/host_network.h"
#include "hcs_fake/vm_backend.h"
#include "src/runtime/runtime.h"

namespace hcsshim::hcs_fake {

struct SimBackendOptions {
  std::string gcsPath;    // the guest agent binary
  std::string vsockRoot;  // hybrid vsock sockets, one set per VM
  std::string vmRoot;     // per-VM device directories
  std::string cgroupRoot = "/sys/fs/cgroup";
  std::string cgroupParent = "/hcs-fake";
  std::vector<std::string> extraGcsArgs;  // e.g. -debug
  runtime::Duration gracefulStopTimeout = std::chrono::seconds(10);
  // NICs (VirtualMachine/Devices/NetworkAdapters/<id>, EndpointId): the HNS
  // endpoint's network and MAC. Unset: adding a NIC answers E_NOTIMPL.
  // Each NIC is a veth pair: the host end on the network's bridge
  // (hcsbr<network>), the guest end (hcsg<adapter>, the endpoint's MAC) in
  // the VM's own network namespace, where the guest agent finds it by MAC.
  std::function<StatusOr<EndpointNic>(const std::string& endpointId)> lookupEndpoint;
  std::string ipPath = "ip";
  std::string nftPath = "nft";
  std::string natTable = "hcs-fake";  // NAT networks' port forwards (host_network.h)
};

// removeDeadDaemonCgroups: the cgroups of daemons that died without
// removing them ("<prefix><owner>" under each hierarchy, `gone(owner)`:
// owner.h), with the VMs still in them - thawed first (a paused VM's
// processes cannot die frozen), killed, then removed. A daemon runs it when
// it starts. Returns the owners whose cgroups could not all be removed (a
// read-only cgroup mount, processes of another PID namespace).
runtime::Task<std::set<std::string>> removeDeadDaemonCgroups(runtime::EventLoop& loop, std::string cgroupRoot,
                                                             std::function<bool(const std::string&)> gone,
                                                             std::string prefix = "hcs-fake-");

// findGuestAgent: the gcs binary for a daemon started as `argv0` - in its
// Bazel runfiles, next to it (bazel-bin/gcs/gcs), or on PATH.
std::string findGuestAgent(const std::string& argv0);

// The index of an LCOW SCSI controller GUID (0..3), or -1.
int lcowScsiControllerIndex(const std::string& guid);

// linkGuestDevice: a host device change (SCSI disk, VPMem device, Plan9
// share) as the file a guest agent running on the host finds under its VM
// directory (<dir>/scsi/<c>/<lun>, <dir>/pmem/<n>, <dir>/shares/<name>).
// false: not such a device.
StatusOr<bool> linkGuestDevice(const std::string& dir, const std::string& id, const schema::ModifySettingRequest& req);
// linkDocumentDevices: the VM document's own SCSI attachments and VPMem
// devices, linked as if each had been added before the guest ran. Keys must
// be device numbers (a LUN below 64, a VPMem number below 128) and
// controllers LCOW's GUIDs: E_INVALIDARG naming the field otherwise.
Status linkDocumentDevices(const std::string& dir, const std::string& id, const schema::VirtualMachine& doc);

class SimVmBackend final : public VmBackend {
 public:
  SimVmBackend(runtime::Runtime& rt, SimBackendOptions options);
  ~SimVmBackend() override;
  std::string name() const override { return "sim"; }

  runtime::Task<Status> start(const std::string& id, const schema::VirtualMachine& vm) override;
  runtime::Task<Status> stop(const std::string& id, bool graceful) override;
  runtime::Task<Status> pause(const std::string& id) override;
  runtime::Task<Status> resume(const std::string& id) override;
  runtime::Task<Status> modify(const std::string& id, const schema::ModifySettingRequest& request) override;
  runtime::Task<StatusOr<hcs::CreatedProcess>> createProcess(const std::string& id,
                                                             const schema::ProcessParameters& params) override;
  runtime::Task<Status> signalProcess(const std::string& id, uint32_t pid, int signal) override;

  size_t runningGuests() const { return vms_.size(); }
  // guestPid: the guest agent's host pid (tests kill it to simulate a crash).
  int guestPid(const std::string& id) const;

 private:
  runtime::Task<Status> freeze(const std::string& id, bool frozen);
  struct Vm;
  runtime::Task<void> watch(std::string id, std::shared_ptr<Vm> vm);
  runtime::Task<void> serveConnects(std::string id, std::shared_ptr<runtime::Listener> l);
  runtime::Task<void> connectToGuest(std::string id, std::unique_ptr<runtime::Stream> host);
  void cleanup(const std::string& id, Vm& vm);
  runtime::Task<Status> addNic(std::string id, std::string adapterId, Json settings);
  runtime::Task<Status> removeNic(std::string id, std::string adapterId);
  // releaseNic: forget a NIC; its veth (and a bridge left without ports) are
  // deleted by detached `ip` runs when `wait` is false.
  void releaseNic(Vm& vm, const std::string& adapterId);
  std::string vmDir(const std::string& id) const { return options_.vmRoot + "/" + id; }
  std::string cgroupPath(const std::string& id) const { return options_.cgroupParent + "/" + id; }

  runtime::Runtime& rt_;
  SimBackendOptions options_;
  std::map<std::string, std::shared_ptr<Vm>> vms_;
  HostBridges bridges_;
};

}  // namespace hcsshim::hcs_fake
