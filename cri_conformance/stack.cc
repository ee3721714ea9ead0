#include "cri_conformance/stack.h"

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "functional/harness/gcs_guest.h"
#include "functional/harness/oci_image.h"
#include "platforms/linux/daemon_hcs.h"
#include "src/common/log.h"
#include "src/runtime/event_loop.h"
#include "src/runtime/wait_for.h"

namespace hcsshim::cri {

namespace fs = std::filesystem;

namespace {

// freePort: a TCP port of 127.0.0.1 nothing listens on right now.
StatusOr<int> freePort() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errnoStatus(errno, "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(s);
  if (port < 0) return errnoStatus(errno, "bind 127.0.0.1:0");
  return port;
}

bool accepts(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

std::pair<int, std::string> ctr(runtime::Runtime& rt, functional::ContainerdInstance& ctd,
                                std::vector<std::string> args) {
  return runtime::blockOn(rt.loop(), ctd.ctrOutput(std::move(args)));
}

}  // namespace

StatusOr<std::unique_ptr<Registry>> Registry::start(runtime::Runtime& rt, const std::string& dir) {
  std::unique_ptr<Registry> r(new Registry());
  HCS_ASSIGN_OR_RETURN(int port, freePort());
  r->host_ = "127.0.0.1:" + std::to_string(port);
  r->log_ = dir + "/registry.log";
  fs::create_directories(dir + "/registry");
  std::ofstream(dir + "/registry.yml") << "version: 0.1\n"
                                       << "log:\n  level: warn\n"
                                       << "storage:\n  filesystem:\n    rootdirectory: " << dir << "/registry\n"
                                       << "  delete:\n    enabled: true\n"
                                       << "http:\n  addr: " << r->host_ << "\n";
  runtime::ProcessSpec spec{.path = "/bin/sh",
                            .args = {"sh", "-c", "exec /usr/bin/docker-registry serve \"$1\" >>\"$2\" 2>&1", "sh",
                                     dir + "/registry.yml", r->log_}};
  HCS_ASSIGN_OR_RETURN(r->process_, rt.processes().spawn(spec));
  bool up = runtime::waitForBlocking(rt.loop(), [&] { return accepts(port) || r->process_->exitStatus(); },
                                     std::chrono::seconds(20), std::chrono::milliseconds(50));
  if (!up || r->process_->exitStatus()) return UnavailableError("docker-registry did not start; see " + r->log_);
  HLOG(Info, "cri.registry.ready").kv("host", r->host_);
  return r;
}

Registry::~Registry() {
  if (process_ && !process_->exitStatus()) {
    (void)process_->signal(SIGKILL);
  }
}

StatusOr<TestImages> pushTestImages(runtime::Runtime& rt, functional::ContainerdInstance& ctd, const Registry& reg,
                                    const std::string& dir) {
  HCS_ASSIGN_OR_RETURN(std::string layer, functional::makeBusyboxLayer(rt, dir));
  TestImages images{reg.host() + "/hcsshim-test/busybox:1.0", reg.host() + "/hcsshim-test/pause:3.6"};
  const Json path = {"PATH=/bin:/usr/bin:/sbin:/usr/sbin"};
  struct Build {
    std::string ref;
    Json config;
  };
  // The sandbox image sleeps until it is killed (a pause process's job).
  std::vector<Build> builds = {
      {images.busybox, Json{{"Env", path}, {"Cmd", {"sh"}}}},
      {images.pause, Json{{"Env", path}, {"Entrypoint", {"/bin/sleep"}}, {"Cmd", {"2147483647"}}}},
  };
  for (const auto& b : builds) {
    std::string work = dir + "/image-" + std::to_string(&b - builds.data());
    fs::create_directories(work);
    HCS_ASSIGN_OR_RETURN(std::string tar, functional::buildImageTar(rt, layer, work, b.ref, b.config));
    auto [code, out] = ctr(rt, ctd, {"-n", "push", "images", "import", tar});
    if (code != 0) return InternalError("ctr images import " + b.ref + ": " + out);
    std::tie(code, out) = ctr(rt, ctd, {"-n", "push", "images", "push", "--plain-http", b.ref});
    if (code != 0) return InternalError("ctr images push " + b.ref + ": " + out);
  }
  return images;
}

std::string podSubnet(const std::string& handler) { return handler == "runc" ? "10.99.0.0/24" : "10.98.0.0/24"; }

StatusOr<std::unique_ptr<CriStack>> CriStack::start(runtime::Runtime& rt, const std::string& handler,
                                                    const Registry& reg, const TestImages& images,
                                                    const std::string& dir) {
  if (handler != "runc" && handler != "runhcs") return InvalidArgumentError("handler " + handler);
  std::unique_ptr<CriStack> s(new CriStack());
  s->rt_ = &rt;
  s->handler_ = handler;
  s->dir_ = dir + "/" + handler;
  fs::create_directories(s->dir_ + "/cni");
  const std::string cniBin = handler == "runhcs" ? s->dir_ + "/cni-bin" : "/usr/lib/cni";
  std::ostringstream cfg;
  cfg << "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
      << "  sandbox_image = \"" << images.pause << "\"\n"
      << "  stream_server_address = \"127.0.0.1\"\n"
      << "  stream_server_port = \"0\"\n"
      // A host without CAP_SYS_RESOURCE (this one: a container) cannot lower
      // oom_score_adj below containerd's; the sandbox's -998 is clamped.
      << "  restrict_oom_score_adj = true\n"
      << "  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
      << "    default_runtime_name = \"" << handler << "\"\n"
      << "    snapshotter = \"overlayfs\"\n"
      << "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
      << "      runtime_type = \"io.containerd.runc.v2\"\n"
      << "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runhcs]\n"
      << "      runtime_type = \"io.containerd.runhcs.v1\"\n"
      << "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runhcs.options]\n"
      << "        TypeUrl = \"io.containerd.runhcs.v1.Options\"\n"
      << "        ConfigPath = \"" << s->dir_ << "/runhcs.toml\"\n"
      << "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
      << "    bin_dir = \"" << cniBin << "\"\n"
      << "    conf_dir = \"" << s->dir_ << "/cni\"\n"
      << "  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"" << reg.host() << "\"]\n"
      << "    endpoint = [\"http://" << reg.host() << "\"]\n";
  // The runhcs handler's options, as a ConfigPath file (Debian's containerd
  // has no runhcs options type compiled in).
  std::ofstream(s->dir_ + "/runhcs.toml") << "# containerd.runhcs.v1.Options\n"
                                          << "SandboxPlatform = \"linux/amd64\"\n"
                                          << "SandboxIsolation = 1\n"
                                          << "VmMemorySizeInMb = 768\n";
  if (handler == "runhcs") {
    // Pods get their network from HNS through hcn-nat (and containerd's
    // loopback, which it always runs, from Debian's plugins).
    fs::create_directories(cniBin);
    std::error_code ec;
    fs::create_symlink(fs::absolute(functional::HcsFakeDaemon::runfile("cni/hcn-nat")), cniBin + "/hcn-nat", ec);
    if (ec) return InternalError("linking hcn-nat: " + ec.message());
    fs::create_symlink("/usr/lib/cni/loopback", cniBin + "/loopback", ec);
    std::ofstream(s->dir_ + "/cni/10-runhcs.conflist")
        << R"({"cniVersion": "1.0.0", "name": "runhcs-pods", "plugins": [)"
        << R"({"type": "hcn-nat", "network": "runhcs-pods", "capabilities": {"portMappings": true},)"
        << R"( "ipam": {"subnet": ")" << podSubnet(handler)
        << R"(", "gateway": "10.98.0.1"}, "dns": {"nameservers": ["10.98.0.10"], "search": ["cri.test"]}}]})";
  }
  if (handler == "runc") {
    // The reference's pod network: Debian's CNI plugins.
    std::ofstream(s->dir_ + "/cni/10-cri-suite.conflist")
        << R"({"cniVersion": "0.4.0", "name": "cri-suite", "plugins": [)"
        << R"({"type": "bridge", "bridge": "crisuite0", "isGateway": true, "ipMasq": false, "hairpinMode": true,)"
        << R"( "ipam": {"type": "host-local", "ranges": [[{"subnet": ")" << podSubnet(handler) << R"("}]], "dataDir": ")" << s->dir_
        << R"(/ipam"}},)"
        << R"({"type": "portmap", "capabilities": {"portMappings": true}}]})";
  }
  functional::ContainerdOptions o;
  o.enableCri = true;
  o.extraConfig = cfg.str();
  if (handler == "runhcs") {
    std::string vsockRoot = s->dir_ + "/vsock";
    fs::create_directories(vsockRoot);
    HCS_ASSIGN_OR_RETURN(s->hcs_, functional::HcsFakeDaemon::start(rt, s->dir_, {"-quiet", "--vsock-root", vsockRoot}));
    o.env["HCS_FAKE_ADDRESS"] = s->hcs_->address();
    o.env["HCS_FAKE_VSOCK_ROOT"] = vsockRoot;
    o.env["HCSSHIM_LAYER_STORE"] = s->dir_ + "/layers";
    o.pathPrepend =
        fs::path(functional::HcsFakeDaemon::runfile("src/shim/cmd/containerd-shim-runhcs-v1")).parent_path().string();
  }
  HCS_ASSIGN_OR_RETURN(s->ctd_, runtime::blockOn(rt.loop(), functional::ContainerdInstance::start(rt, o)));
  s->cri_ = std::make_unique<CriClient>(s->ctd_->grpcAddress());
  HLOG(Info, "cri.stack.ready").kv("handler", handler).kv("containerd", s->ctd_->grpcAddress());
  return s;
}

StatusOr<size_t> CriStack::computeSystems() {
  if (!hcs_) return size_t{0};
  return runtime::blockOn(rt_->loop(), [](runtime::Runtime& rt, std::string address) -> runtime::Task<StatusOr<size_t>> {
    auto api = co_await platforms::DaemonHcs::connect(rt, address);
    if (!api.ok()) co_return api.status();
    auto list = co_await (*api)->enumerateComputeSystems("");
    if (!list.ok()) co_return list.status();
    auto j = parseJson(*list);
    if (!j.ok() || !j->is_array()) co_return InternalError("HCS enumerate: not a JSON array");
    co_return j->size();
  }(*rt_, hcs_->address()));
}

CriStack::~CriStack() {
  // containerd's log (the shims' are in it) stays with the test's outputs.
  if (const char* outputs = getenv("TEST_UNDECLARED_OUTPUTS_DIR"); outputs && ctd_) {
    std::error_code ec;
    fs::copy_file(ctd_->logPath(), std::string(outputs) + "/containerd-" + handler_ + ".log",
                  fs::copy_options::overwrite_existing, ec);
  }
  if (ctd_) (void)runtime::blockOn(rt_->loop(), ctd_->stop());
  if (hcs_) (void)hcs_->stop();
}

}  // namespace hcsshim::cri
