// qemu_backend.h: the `qemu` VM backend - a VirtualMachine's guest is a real
// Linux kernel and initrd (tools/guest_image) booted by QEMU, its vsock a
// vhost-user-vsock device process (sim/vsock) that serves the same hybrid
// vsock sockets as the sim backend, so the host side is unchanged.
//
// Per VM (id X, D = <vmRoot>/<sha256(X)[:16]>, V = platforms::hybridVsockPath(vsockRoot, X)):
//   D/qmp.sock     QEMU's QMP socket       D/vhost.sock  vhost-user (QEMU <-> device)
//   D/serial.log   the guest's console     V, V_<port>   hybrid vsock (as in sim)
// HCS -> QEMU:
//   Memory.SizeInMB, Processor.Count     -m, -smp (memfd RAM: vhost-user maps it)
//   Chipset.LinuxKernelDirect            -kernel/-initrd/-append (PVH for an ELF vmlinux)
//   Devices.Scsi.<controller GUID>       virtio-scsi-pci at PCI slot 0x10 + controller
//                                        index, so the guest maps controller -> host
//   Scsi add/remove (Attachments/<lun>)  blockdev-add + scsi-hd (scsi-id 0, lun = LUN);
//                                        device_del, DEVICE_DELETED, blockdev-del
//   Start / Shutdown / Terminate         spawn / system_powerdown (ACPI) / SIGKILL
//   Pause / Resume                       QMP stop / cont, read back with query-status
//   Plan9/Shares add/remove              9P on vsock port Settings.Port by diod (plan9.h)
//   VirtualPMem/Devices/<n> add          a read-only memory-backend-file + virtio-pmem-pci
//                                        (the guest's /dev/pmem<n>); virtio-pmem cannot be
//                                        unplugged, so a Remove keeps the device
//   NetworkAdapters/<id> add/remove      a tap (hcst<id>) on the network's bridge
//                                        (host_network.h) + virtio-net-pci with the
//                                        endpoint's MAC; device_del waits for the guest
// QEMU exiting without being asked is SystemExited: S_OK when the guest
// powered off, HCS_E_UNEXPECTED_EXIT when it reset (a panic: panic=-1 and
// -no-reboot) or QEMU died. QEMU and the device process die with the fake
// HCS (PR_SET_PDEATHSIG); their files go when the VM does.
// Not yet: VPMem devices and NICs in the create document (E_NOTIMPL;
// hot-added ones work).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hcs_fake/host_network.h"
#include "hcs_fake/sim_backend.h"
#include "hcs_fake/vm_backend.h"
#include "src/runtime/runtime.h"

namespace hcsshim::hcs_fake {

struct QemuBackendOptions {
  std::string qemuPath = "qemu-system-x86_64";
  std::string vsockDevicePath;  // the vhost-user-vsock binary
  std::string diodPath = "diod";  // the 9P server of Plan9 shares
  std::string vsockRoot;
  std::string vmRoot;  // short: QEMU's unix sockets live here
  std::string accel = "auto";  // auto (KVM if a probe guest runs, else TCG), kvm, tcg
  runtime::Duration gracefulStopTimeout = std::chrono::seconds(20);
  runtime::Duration bootTimeout = std::chrono::seconds(30);
  // NICs (VirtualMachine/Devices/NetworkAdapters/<id>, EndpointId): the
  // endpoint's network and MAC, as for the sim backend. Unset: E_NOTIMPL.
  std::function<StatusOr<EndpointNic>(const std::string& endpointId)> lookupEndpoint;
  std::string ipPath = "ip";
  std::string nftPath = "nft";
  std::string natTable = "hcs-fake";  // NAT networks' port forwards (host_network.h)
};

// QemuMachine: what the command line is made from (paths and the document).
struct QemuMachine {
  std::string id, dir, hybridSocket, accel;
};

// qemuCommandLine: QEMU's argv for the document. HCS_E_INVALID_JSON or
// E_INVALIDARG naming the field the backend cannot honour.
StatusOr<std::vector<std::string>> qemuCommandLine(const QemuMachine& m, const schema::VirtualMachine& vm,
                                                   const std::string& qemuPath);
// kQemuKernelOptions: what this VMM tells every guest kernel first (the
// document's own options come after, so they win): the TSC of a QEMU
// machine is stable (no calibration against other clocks, no watchdog), no
// audit, no crypto self-tests, no PS/2 controller probing. Under TCG they
// take a trivial boot from 3.3 s to 2.0 s here (docs/benchmarks.md).
inline constexpr const char* kQemuKernelOptions =
    "tsc=reliable no_timer_check nowatchdog audit=0 cryptomgr.notests i8042.noaux i8042.nokbd i8042.nopnp";

// qemuKernelCommandLine: the document's kernel command line for a virtio
// guest, after kQemuKernelOptions. hcsshim writes it for Hyper-V, where
// devices sit on VMBus: it adds `pci=off` and (HEAD)
// `initcall_blacklist=virtio_vsock_init`; under QEMU every device is virtio
// on PCI, so both go. Init's arguments (after "--") are kept as they are.
std::string qemuKernelCommandLine(const std::string& hcsCmdline);
// findVsockDevice: the vhost-user-vsock binary for a daemon started as argv0.
std::string findVsockDevice(const std::string& argv0);

class QemuVmBackend final : public VmBackend {
 public:
  QemuVmBackend(runtime::Runtime& rt, QemuBackendOptions options);
  ~QemuVmBackend() override;
  std::string name() const override { return "qemu"; }

  runtime::Task<Status> start(const std::string& id, const schema::VirtualMachine& vm) override;
  runtime::Task<Status> stop(const std::string& id, bool graceful) override;
  runtime::Task<Status> pause(const std::string& id) override;
  runtime::Task<Status> resume(const std::string& id) override;
  runtime::Task<Status> modify(const std::string& id, const schema::ModifySettingRequest& request) override;
  runtime::Task<StatusOr<hcs::CreatedProcess>> createProcess(const std::string& id,
                                                             const schema::ProcessParameters& params) override;
  runtime::Task<Status> signalProcess(const std::string& id, uint32_t pid, int signal) override;

  size_t runningGuests() const { return vms_.size(); }
  int qemuPid(const std::string& id) const;

 private:
  struct Vm;
  runtime::Task<std::string> accelerator(const std::string& kernel);
  runtime::Task<void> watch(std::string id, std::shared_ptr<Vm> vm);
  runtime::Task<Status> scsi(const std::string& id, Vm& vm, int controller, int lun, const schema::ModifySettingRequest& r);
  runtime::Task<Status> setRunning(const std::string& id, bool running);
  Status plan9(const std::string& id, Vm& vm, const schema::ModifySettingRequest& r);
  runtime::Task<Status> vpmem(const std::string& id, Vm& vm, uint32_t n, const schema::ModifySettingRequest& r);
  runtime::Task<Status> nic(std::string id, std::shared_ptr<Vm> vm, std::string adapterId, schema::ModifySettingRequest r);
  void cleanup(const std::string& id, Vm& vm);
  // vmDir: short whatever the id (unix socket paths have 107 bytes).
  std::string vmDir(const std::string& id) const;

  runtime::Runtime& rt_;
  QemuBackendOptions options_;
  std::map<std::string, std::shared_ptr<Vm>> vms_;
  std::string probedAccel_;
  HostBridges bridges_;
};

}  // namespace hcsshim::hcs_fake
