// gcs_guest.h: plays the host for a real `gcs` process - runs the agent
// binary (from runfiles; the target lists "//gcs" in data) against hybrid
// vsock sockets in a temp dir and accepts its bridge connection.
//
//   auto g = GcsGuest::start(rt);                    // gcs dialled in, negotiated
//   co_await g->connection().createContainer(...);
//   g->stop();                                       // SIGTERM, exit code
//
// Also builds what containers need: a busybox layer and an OCI spec (from
// `runc spec`, as a host would send).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "platforms/linux/hybrid_vsock.h"
#include "src/bridge/guest_connection.h"
#include "src/runtime/runtime.h"

namespace hcsshim::functional {

class GcsGuest {
 public:
  struct Options {
    std::vector<std::string> extraArgs;
    bridge::GuestConnectionOptions connection;
    bool connect = true;  // false: the caller takes the raw bridge stream (acceptRaw)
    std::string gcsPath;  // default: gcs/gcs in the runfiles
  };
  static StatusOr<std::unique_ptr<GcsGuest>> start(runtime::Runtime& rt, Options options);
  static StatusOr<std::unique_ptr<GcsGuest>> start(runtime::Runtime& rt) { return start(rt, Options{}); }
  ~GcsGuest();

  bridge::GuestConnection& connection() { return *conn_; }
  platforms::HybridVsockHost& vsock() { return *vsock_; }
  // accept takes the agent's next bridge connection (after it re-dials).
  StatusOr<std::unique_ptr<bridge::GuestConnection>> acceptAgain();
  // acceptRaw: the agent's next bridge connection as a plain stream (10 s).
  StatusOr<std::unique_ptr<runtime::Stream>> acceptRaw();
  runtime::Process& process() { return *process_; }
  // dir: the agent's mount root. Hot-added disks go in dir/scsi/<controller>/<lun>
  // and dir/pmem/<n>, Plan9 shares in dir/shares/<name> (as a VM backend would).
  const std::string& dir() const { return dir_; }
  bool running() const;
  // stop: SIGTERM, wait; returns the agent's exit code.
  int stop();

  // busyboxLayer: a layer directory with /bin/busybox and its applet links.
  StatusOr<std::string> busyboxLayer();
  // spec: `runc spec` with root.path = rootfs and process.args = args.
  StatusOr<Json> spec(const std::string& rootfs, std::vector<std::string> args);

  static std::string runfile(const std::string& relative);

 private:
  GcsGuest(runtime::Runtime& rt) : rt_(rt) {}
  runtime::Runtime& rt_;
  std::string dir_;
  std::unique_ptr<platforms::HybridVsockHost> vsock_;
  std::unique_ptr<runtime::Listener> bridgeListener_;
  std::unique_ptr<runtime::Process> process_;
  std::unique_ptr<bridge::GuestConnection> conn_;
  bridge::GuestConnectionOptions connOptions_;
};

// makeBusyboxLayer writes a layer directory <dir>/layers/busybox with
// /bin/busybox (busybox-static) and its applet links.
std::string cgroupParentFor(const std::string& dir);

StatusOr<std::string> makeBusyboxLayer(runtime::Runtime& rt, const std::string& dir);
// runcSpec: `runc spec` (generated in <dir>/specgen) with root.path = rootfs
// and process.args = args - the OCI spec a host would send.
StatusOr<Json> runcSpec(runtime::Runtime& rt, const std::string& dir, const std::string& rootfs,
                        std::vector<std::string> args);

// leftovers lists what a container left behind on this host: runc state,
// mounts under `dir`, processes in its cgroup, its cgroups.
// (cgroupParentFor(dir): the agent's --cgroup-parent for a guest in dir.)
std::vector<std::string> leftovers(const std::string& runcRoot, const std::string& dir, const std::string& containerId);

}  // namespace hcsshim::functional
