#include "functional/harness/gcs_guest.h"

#include "functional/harness/hcs_fake_daemon.h"
#include "src/runtime/read_file.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/runtime/event_loop.h"

namespace hcsshim::functional {

namespace fs = std::filesystem;

std::string GcsGuest::runfile(const std::string& relative) { return HcsFakeDaemon::runfile(relative); }

std::string cgroupParentFor(const std::string& dir) { return "/gcs-test-" + fs::path(dir).filename().string(); }

namespace {

// removeCgroupParent: the guest's (empty) parent cgroups, deepest first, in
// every hierarchy.
void removeCgroupParent(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> roots = {"/sys/fs/cgroup"};
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) roots.push_back(h.path().string());
  for (const auto& root : roots) {
    std::string top = root + cgroupParentFor(dir);
    if (!fs::exists(top, ec)) continue;
    std::vector<std::string> dirs;
    for (auto it = fs::recursive_directory_iterator(top, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) dirs.push_back(it->path().string());
    }
    std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(top.c_str());
  }
}

}  // namespace

StatusOr<std::unique_ptr<GcsGuest>> GcsGuest::start(runtime::Runtime& rt, Options options) {
  std::unique_ptr<GcsGuest> g(new GcsGuest(rt));
  char tmpl[] = "/tmp/gcs-XXXXXX";
  if (!mkdtemp(tmpl)) return errnoStatus(errno, "mkdtemp");
  g->dir_ = tmpl;
  g->connOptions_ = options.connection;
  g->vsock_ = std::make_unique<platforms::HybridVsockHost>(rt.transport(), g->dir_ + "/vm.sock");
  HCS_ASSIGN_OR_RETURN(g->bridgeListener_, g->vsock_->listen(bridge::kBridgePort));
  std::string bin = options.gcsPath.empty() ? runfile("gcs/gcs") : options.gcsPath;
  runtime::ProcessSpec spec{.path = bin,
                            .args = {bin, "--hybrid-vsock", g->dir_ + "/vm.sock", "--state-dir", g->dir_ + "/state",
                                     "--mount-root", g->dir_, "--scsi-root", g->dir_ + "/scsi", "--pmem-root",
                                     g->dir_ + "/pmem", "--plan9-root", g->dir_ + "/shares", "--cgroup-parent",
                                     cgroupParentFor(g->dir_)}};
  spec.args.insert(spec.args.end(), options.extraArgs.begin(), options.extraArgs.end());
  HCS_ASSIGN_OR_RETURN(g->process_, rt.processes().spawn(spec));
  if (options.connect) {
    HCS_ASSIGN_OR_RETURN(g->conn_, g->acceptAgain());
  }
  return g;
}

StatusOr<std::unique_ptr<bridge::GuestConnection>> GcsGuest::acceptAgain() {
  return runtime::blockOn(rt_.loop(), bridge::GuestConnection::accept(rt_.loop(), *bridgeListener_, *vsock_, "test-vm",
                                                                      connOptions_));
}

StatusOr<std::unique_ptr<runtime::Stream>> GcsGuest::acceptRaw() {
  return runtime::blockOn(rt_.loop(), runtime::withTimeout(rt_.loop(), bridgeListener_->accept(), std::chrono::seconds(10),
                                                           []() -> StatusOr<std::unique_ptr<runtime::Stream>> {
                                                             return DeadlineExceededError("the agent did not dial");
                                                           }));
}

GcsGuest::~GcsGuest() {
  conn_.reset();
  if (running()) stop();
  bridgeListener_.reset();
  removeCgroupParent(dir_);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

bool GcsGuest::running() const { return process_ && !process_->exitStatus(); }

int GcsGuest::stop() {
  if (!process_) return -1;
  if (!process_->exitStatus()) (void)process_->signal(SIGTERM);
  return runtime::blockOn(rt_.loop(), process_->wait()).exitCode;
}

StatusOr<std::string> GcsGuest::busyboxLayer() { return makeBusyboxLayer(rt_, dir_); }

StatusOr<Json> GcsGuest::spec(const std::string& rootfs, std::vector<std::string> args) {
  return runcSpec(rt_, dir_, rootfs, std::move(args));
}

StatusOr<std::string> makeBusyboxLayer(runtime::Runtime& rt, const std::string& dir) {
  std::string layer = dir + "/layers/busybox";
  fs::create_directories(layer + "/bin");
  fs::create_directories(layer + "/etc");
  std::error_code ec;
  fs::copy_file("/bin/busybox", layer + "/bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) return Status(Code::kFailedPrecondition, "copying /bin/busybox (busybox-static): " + ec.message());
  // Every applet as a link, like `busybox --install -s`.
  auto list = runtime::blockOn(rt.loop(), [](runtime::Runtime& rt) -> runtime::Task<StatusOr<std::string>> {
    runtime::ProcessSpec spec{.path = "/bin/busybox", .args = {"busybox", "--list"}};
    spec.stdoutMode = runtime::StdioMode::kPipe;
    auto p = rt.processes().spawn(spec);
    if (!p.ok()) co_return p.status();
    auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
    (void)co_await (*p)->wait();
    co_return out;
  }(rt));
  if (!list.ok()) return list.status();
  std::istringstream names(*list);
  std::string name;
  while (names >> name) {
    if (name == "busybox") continue;
    fs::create_symlink("busybox", layer + "/bin/" + name, ec);
  }
  // root, and a user and group for the security-context cases (run as a user by name).
  std::ofstream(layer + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/:/bin/sh\n";
  std::ofstream(layer + "/etc/group") << "root:x:0:\ntesters:x:1000:\n";
  return layer;
}

StatusOr<Json> runcSpec(runtime::Runtime& rt, const std::string& dir, const std::string& rootfs,
                        std::vector<std::string> args) {
  std::string gen = dir + "/specgen";
  fs::create_directories(gen);
  auto code = runtime::blockOn(rt.loop(), [](runtime::Runtime& rt, std::string gen) -> runtime::Task<int> {
    auto p = rt.processes().spawn(runtime::ProcessSpec{.path = "runc", .args = {"runc", "spec", "--bundle", gen}});
    if (!p.ok()) co_return -1;
    co_return (co_await (*p)->wait()).exitCode;
  }(rt, gen));
  if (code != 0) return Status(Code::kFailedPrecondition, "runc spec failed (is runc installed?)");
  std::ifstream in(gen + "/config.json");
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(gen + "/config.json");
  HCS_ASSIGN_OR_RETURN(Json spec, parseJson(ss.str()));
  spec["root"]["path"] = rootfs;
  spec["root"]["readonly"] = false;
  spec["process"]["args"] = args;
  spec["process"]["terminal"] = false;
  return spec;
}

std::vector<std::string> leftovers(const std::string& runcRoot, const std::string& dir, const std::string& id) {
  std::vector<std::string> found;
  if (fs::exists(runcRoot + "/" + id)) found.push_back("runc state " + runcRoot + "/" + id);
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream f(line);
    std::string a, b, c, root, point;
    f >> a >> b >> c >> root >> point;
    if (point.rfind(dir, 0) == 0) found.push_back("mount " + point);
  }
  // Processes in the container's cgroup (the agent puts it at <parent>/gcs/<id>;
  // the parent is per guest, so tests running side by side do not see each other).
  const std::string cgroup = cgroupParentFor(dir) + "/gcs/" + id;
  std::error_code ec;
  for (const auto& p : fs::directory_iterator("/proc", ec)) {
    std::string name = p.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::istringstream cg(runtime::readFile(std::string(p.path() / "cgroup")).value_or(""));
    std::string l;
    while (std::getline(cg, l)) {
      if (l.size() >= cgroup.size() && l.compare(l.size() - cgroup.size(), std::string::npos, cgroup) == 0) {
        found.push_back("process " + name + " in cgroup " + cgroup);
        break;
      }
    }
  }
  for (const char* ctl : {"memory", "pids", "cpu", "freezer", "unified", ""}) {
    std::string cg = std::string("/sys/fs/cgroup/") + ctl + (ctl[0] ? "" : "") + cgroup;
    if (fs::exists(cg)) found.push_back("cgroup " + cg);
  }
  return found;
}

}  // namespace hcsshim::functional
