// uvm.h: Linux utility VMs (LCOW) - the host side that creates a VM through
// HCS, boots it, takes its guest agent's connection and drives it.
//
//   LcowOptions o{.id = "vm1", .bootFilesPath = "/opt/lcow"};
//   auto vm = co_await UtilityVM::create(rt, hcs, std::move(vsock), o);
//   HCS_CO_RETURN_IF_ERROR(co_await (*vm)->start());      // booted, negotiated
//   auto c = co_await (*vm)->createContainer("c1", {layerDir}, spec);
//   auto p = co_await (*c)->start({"echo", "hi"}, {.out = true});
//   co_await (*vm)->close();                              // graceful, then forced
//
// The same code drives Hyper-V (platforms/windows: real HCS, AF_HYPERV) and
// the fake HCS's sim backend (platforms/linux: hybrid vsock). Every error
// names the VM and the step that failed.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/bridge/guest_connection.h"
#include "src/hcs/compute_system.h"
#include "src/schema/hns.h"
#include "src/runtime/runtime.h"

namespace hcsshim::uvm {

struct LcowOptions {
  std::string id;
  std::string owner = "hcsshim-cpp";
  std::string bootFilesPath;           // holds the kernel and the root filesystem
  std::string kernelFile;              // default: "vmlinux" if present, else "kernel"
  std::string rootfsFile = "initrd.img";
  std::string kernelBootOptions;       // appended to the kernel command line
  // initArgs: what the kernel hands the guest's init (after "--"). Empty:
  // the boot files' own configuration, the file <bootFilesPath>/init-args
  // (one line), else kDefaultInitArgs (our init and gcs). A vendor booting
  // another guest image (hcsshim's own: "-e 1 /bin/vsockexec -e 109 /bin/gcs
  // -v4 -log-format json -loglevel info") puts its line there.
  std::string initArgs;
  uint64_t memoryMB = 1024;
  uint32_t processors = 2;
  // SCSI controllers: hcsshim's LCOW default is 1, and 4 when VPMem is off
  // (vpmemCount 0); 0 here means that default.
  uint32_t scsiControllers = 0;
  uint32_t vpmemCount = 64;            // max 128
  uint64_t vpmemSizeBytes = 4ull << 30;
  runtime::Duration bootTimeout = std::chrono::seconds(60);
  runtime::Duration shutdownTimeout = std::chrono::seconds(10);
  bridge::GuestConnectionOptions guest;
};

// scsiControllerCount: the controllers a VM with these options gets.
inline uint32_t scsiControllerCount(const LcowOptions& o) {
  return o.scsiControllers ? o.scsiControllers : (o.vpmemCount == 0 ? 4 : 1);
}

// kDefaultInitArgs: entropy from vsock port 1, then our agent (as PID 1's
// child, its output on port 109) - the LCOW boot sequence.
inline constexpr const char* kDefaultInitArgs = "-e 1 /bin/vsockexec -e 109 /bin/gcs --init";
// kInitArgsFile: the boot files' init configuration (see LcowOptions.initArgs).
inline constexpr const char* kInitArgsFile = "init-args";

// bootFile: `name` in the boot files folder `dir`, joined the way `dir`
// is written - with \ for a Windows path (C:\..., \\server\...; what
// hcsshim's filepath.Join gives HCS), else with /.
std::string joinHostPath(const std::string& dir, const std::string& name);

// lcowDocument: the schema2 ComputeSystem document for these options.
StatusOr<schema::ComputeSystem> lcowDocument(const LcowOptions& options);
// initArgsFor: the init arguments the options resolve to (InvalidArgument
// for an init-args file that is empty, not one line, or unreadable).
StatusOr<std::string> initArgsFor(const LcowOptions& options);
// kernelCommandLine: what the guest kernel is started with (at most 2048
// bytes, the x86 kernel's COMMAND_LINE_SIZE: InvalidArgument beyond).
StatusOr<std::string> kernelCommandLine(const LcowOptions& options);

inline constexpr const char* kScsiControllerGuids[] = {
    "df6d0690-79e5-55b6-a5ec-c1e2f77f580a", "0110f83b-de10-5172-a266-78bca56bf50a",
    "b5d2d8d4-3a75-51bf-945b-3444dc6b8579", "305891a9-b251-5dfe-91a2-c25d9212275b"};

class UtilityVM;

// A container in a utility VM.
class Container {
 public:
  const std::string& id() const { return id_; }
  // start runs the container's init (params.ociProcess empty: the spec's process).
  runtime::Task<StatusOr<std::unique_ptr<bridge::GuestProcess>>> start(bridge::ProcessParameters params,
                                                                        bridge::StdioRequest stdio);
  // exec runs another process in it (an OCI process).
  runtime::Task<StatusOr<std::unique_ptr<bridge::GuestProcess>>> exec(Json ociProcess, bridge::StdioRequest stdio,
                                                                       bool terminal = false);
  // waitExit: its exit notification (Result = the init's exit code).
  runtime::Task<StatusOr<bridge::ContainerNotification>> waitExit();
  runtime::Task<Status> shutdown(bool forced);
  // remove deletes the guest state and releases the layers (idempotent).
  runtime::Task<Status> remove();
  runtime::Task<StatusOr<bridge::GuestProperties>> properties(std::vector<std::string> types);
  // update applies OCI LinuxResources to the running container.
  runtime::Task<Status> update(Json resources);

 private:
  friend class UtilityVM;
  Container(UtilityVM& vm, std::string id) : vm_(vm), id_(std::move(id)) {}
  UtilityVM& vm_;
  std::string id_;
  std::string rootPath_;
  std::vector<std::string> layerHostPaths_;
  bool removed_ = false;
};

class UtilityVM {
 public:
  // create: validates the options and creates the compute system (not started).
  static runtime::Task<StatusOr<std::unique_ptr<UtilityVM>>> create(runtime::Runtime& rt, hcs::HcsApi& hcs,
                                                                     std::unique_ptr<bridge::VsockHost> vsock,
                                                                     LcowOptions options);
  ~UtilityVM();

  const std::string& id() const { return options_.id; }
  const LcowOptions& options() const { return options_; }
  hcs::ComputeSystem& system() { return *system_; }
  bridge::GuestConnection& guest() { return *guest_; }
  // bootTime: from start() to a negotiated guest connection.
  runtime::Duration bootTime() const { return bootTime_; }

  // start: listen for the guest (entropy, log, bridge), HCS Start, serve the
  // boot ports, accept the GCS and negotiate - within bootTimeout.
  runtime::Task<Status> start();

  // Devices. Each is reference counted by host path: adding the same path
  // again returns the same guest path; the last remove unplugs it.
  struct ScsiDisk {
    uint32_t controller = 0;
    uint32_t lun = 0;
    std::string guestPath;
  };
  runtime::Task<StatusOr<ScsiDisk>> addScsi(std::string hostPath, bool readOnly);
  runtime::Task<Status> removeScsi(std::string hostPath);
  runtime::Task<StatusOr<std::string>> addVPMem(std::string hostPath);
  runtime::Task<Status> removeVPMem(std::string hostPath);
  runtime::Task<StatusOr<std::string>> addPlan9(std::string hostPath, bool readOnly);
  runtime::Task<Status> removePlan9(std::string hostPath);

  // addNetworkEndpoint: an HNS endpoint's NIC into the VM (HCS
  // NetworkAdapters, keyed by the endpoint id) and, in the guest, into the
  // network namespace of HCN namespace `namespaceId` with the endpoint's
  // addresses, routes and DNS (ModifySettings, resource type Network).
  // Containers join it through their spec's windows.network.networkNamespace.
  runtime::Task<Status> addNetworkEndpoint(schema::HostComputeEndpoint endpoint, std::string namespaceId);
  runtime::Task<Status> removeNetworkEndpoint(std::string endpointId);

  // createContainer: layers (host paths, top-most first: directories are
  // shared with Plan9, ext4 image files attached read-only as VPMem when
  // they fit the VM's VPMem devices - size and free slots - else as SCSI
  // disks, as hcsshim does) combined with a scratch into the container's
  // root; `spec` is its OCI runtime spec. scratchDir (optional): a host
  // directory shared read-write as the writable layer (e.g. containerd's
  // overlay snapshot), or an ext4 disk image attached read-write by SCSI
  // (the container's upper and work directories under scratch/<id> on it);
  // else the scratch lives in the VM.
  runtime::Task<StatusOr<std::unique_ptr<Container>>> createContainer(std::string id, std::vector<std::string> layers,
                                                                       Json spec, std::string scratchDir = "");
  // createContainerOnShare: the container's root is a host directory (an
  // already mounted rootfs, as containerd prepares it) shared read-write
  // into the VM; writes land in that directory.
  runtime::Task<StatusOr<std::unique_ptr<Container>>> createContainerOnShare(std::string id, std::string rootfsDir,
                                                                              Json spec);
  // exec: a process in the utility VM itself.
  runtime::Task<StatusOr<std::unique_ptr<bridge::GuestProcess>>> exec(bridge::ProcessParameters params,
                                                                       bridge::StdioRequest stdio);

  // waitExit: the VM stopped (HCS SystemExited); the exit type says how.
  runtime::Task<hcs::SystemExit> waitExit();
  // close: graceful shutdown (the guest and HCS), terminate after
  // shutdownTimeout, release the HCS handle. Idempotent.
  runtime::Task<Status> close();

 private:
  friend class Container;
  UtilityVM(runtime::Runtime& rt, std::unique_ptr<bridge::VsockHost> vsock, LcowOptions options)
      : rt_(rt), vsock_(std::move(vsock)), options_(std::move(options)) {}
  Status fail(std::string_view step, const Status& st) const;
  runtime::Task<StatusOr<std::string>> addLayerImage(std::string hostPath);
  runtime::Task<void> serveEntropy(std::shared_ptr<runtime::Listener> l);
  runtime::Task<void> serveLog(std::shared_ptr<runtime::Listener> l);
  runtime::Task<Status> releaseLayer(std::string hostPath);
  std::map<std::string, bridge::LcowNetworkAdapter> nics_;  // endpoint id -> what the guest was told

  runtime::Runtime& rt_;
  std::unique_ptr<bridge::VsockHost> vsock_;
  LcowOptions options_;
  std::unique_ptr<hcs::ComputeSystem> system_;
  std::unique_ptr<bridge::GuestConnection> guest_;
  std::vector<std::shared_ptr<runtime::Listener>> bootListeners_;
  runtime::Duration bootTime_{};
  runtime::TimePoint startedAt_{};  // Start called (boot phase events count from here)
  int64_t sinceStartMs() const;
  bool closed_ = false;
  std::optional<hcs::SystemExit> exit_;
  struct Ref {
    std::string guestPath;
    uint32_t controller = 0, lun = 0, index = 0;
    int refs = 0;
  };
  std::map<std::string, Ref> scsi_, vpmem_, plan9_;
  uint32_t nextShare_ = 0;
};

}  // namespace hcsshim::uvm
