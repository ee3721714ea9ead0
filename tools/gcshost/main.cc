// gcshost: plays the host for a real guest agent. Starts `gcs` as a host
// process wired to hybrid vsock sockets in a temp dir, accepts its bridge
// connection, and drives it through GuestConnection.
//
//   gcshost run [-i] [-t] [--layer DIR]... -- CMD [ARGS...]
//       a busybox container (plus the given layers, top-most first) runs
//       CMD with stdio attached; exits with CMD's exit code.
//   gcshost uvm [-i] -- CMD [ARGS...]          CMD as a process of the "UVM"
//   gcshost bench [--iterations N] [--relay-mib M]
//       bridge round trip p50/p99, stdio relay throughput, and container
//       create+start+wait of `true` through gcs vs bare `runc run` of the
//       same bundle, side by side (needs root).
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "functional/harness/gcs_guest.h"
#include "gcs/storage.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/runtime/fd_stream.h"
#include "src/runtime/real_runtime.h"

namespace {

using namespace hcsshim;
using runtime::Task;
namespace fs = std::filesystem;

int usage() {
  std::fprintf(stderr,
               "usage: gcshost run [-i] [-t] [--layer DIR]... -- CMD [ARGS...]\n"
               "       gcshost uvm [-i] -- CMD [ARGS...]\n"
               "       gcshost bench [--iterations N] [--relay-mib M]\n");
  return 2;
}

int fail(const Status& s) {
  std::fprintf(stderr, "gcshost: %s\n", s.toString().c_str());
  return 1;
}

Task<void> copyOut(runtime::Stream* from, int fd, bool& done) {
  char buf[65536];
  for (;;) {
    auto n = co_await from->read(buf);
    if (!n.ok() || *n == 0) break;
    size_t off = 0;
    while (off < *n) {
      ssize_t w = ::write(fd, buf + off, *n - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
  }
  done = true;
}

Task<void> copyIn(runtime::Stream& from, bridge::GuestProcess& p, bool& done) {
  char buf[65536];
  for (;;) {
    auto n = co_await from.read(buf);
    if (!n.ok() || *n == 0) break;
    if (!(co_await p.stdinStream()->write(std::string_view(buf, *n))).ok()) break;
  }
  (void)p.closeStdin();
  done = true;
}

// attach relays our stdio to the process and returns its exit code.
Task<int> attach(runtime::RealRuntime& rt, bridge::GuestProcess& p, bool interactive) {
  bool outDone = !p.stdoutStream(), errDone = !p.stderrStream(), inDone = true;
  if (p.stdoutStream()) runtime::spawn(copyOut(p.stdoutStream(), STDOUT_FILENO, outDone));
  if (p.stderrStream()) runtime::spawn(copyOut(p.stderrStream(), STDERR_FILENO, errDone));
  std::unique_ptr<runtime::FdStream> in;
  if (interactive) {
    auto s = runtime::FdStream::create(rt.epoll(), dup(STDIN_FILENO), runtime::FdStream::Kind::kPipeRead, "stdin");
    if (s.ok()) {
      in = std::move(*s);
      inDone = false;
      runtime::spawn(copyIn(*in, p, inDone));
    }
  }
  auto code = co_await p.wait();
  while (!outDone || !errDone) co_await runtime::sleep(rt.loop(), std::chrono::milliseconds(1));
  if (in) in->close();
  while (!inDone) co_await runtime::sleep(rt.loop(), std::chrono::milliseconds(1));
  if (!code.ok()) co_return fail(code.status());
  co_return static_cast<int>(*code);
}

struct Container {
  std::string id, root;
};

// makeContainer: busybox + layers as an overlay root, and the container.
// A template spec (from `runc spec`) and the busybox layer are made once and
// passed in, so benchmarks time only the container's own work.
struct Prepared {
  std::string busybox;
  Json spec;
};

StatusOr<Prepared> prepare(functional::GcsGuest& g) {
  HCS_ASSIGN_OR_RETURN(std::string busybox, g.busyboxLayer());
  HCS_ASSIGN_OR_RETURN(Json spec, g.spec("/", {"true"}));
  return Prepared{busybox, spec};
}

Task<StatusOr<Container>> makeContainer(functional::GcsGuest& g, const Prepared& prep, std::string id,
                                        std::vector<std::string> layers, std::vector<std::string> args) {
  Container c{id, g.dir() + "/rootfs/" + id};
  bridge::CombinedLayers cl;
  cl.containerId = id;
  cl.containerRootPath = c.root;
  for (auto& l : layers) cl.layers.push_back(bridge::Layer{fs::absolute(l).string(), {}});
  cl.layers.push_back(bridge::Layer{prep.busybox, {}});
  cl.scratchPath = g.dir() + "/scratch/" + id;
  bridge::ModifyRequest add;
  add.resourceType = bridge::resource::kCombinedLayers;
  add.requestType = "Add";
  add.settings = schema::encode(cl);
  HCS_CO_RETURN_IF_ERROR(co_await g.connection().modifySettings(id, add));
  bridge::ContainerConfig config;
  config.ociSpecification = prep.spec;
  config.ociSpecification["root"]["path"] = c.root;
  config.ociSpecification["process"]["args"] = args;
  HCS_CO_RETURN_IF_ERROR(co_await g.connection().createContainer(id, config));
  HCS_CO_RETURN_IF_ERROR(co_await g.connection().startContainer(id));
  co_return c;
}

Task<Status> removeContainer(functional::GcsGuest& g, Container c) {
  HCS_CO_RETURN_IF_ERROR(co_await g.connection().deleteContainerState(c.id));
  co_return OkStatus();
}

Task<int> runCmd(runtime::RealRuntime& rt, functional::GcsGuest& g, std::vector<std::string> layers,
                 std::vector<std::string> args, bool interactive, bool tty) {
  auto prep = prepare(g);
  if (!prep.ok()) co_return fail(prep.status());
  auto c = co_await makeContainer(g, *prep, "run", layers, args);
  if (!c.ok()) co_return fail(c.status());
  bridge::ProcessParameters pp;
  pp.emulateConsole = tty;
  if (tty) pp.consoleSize = {24, 80};
  bridge::StdioRequest stdio{.in = interactive, .out = true, .err = !tty};
  auto p = co_await g.connection().executeProcess(c->id, pp, stdio);
  if (!p.ok()) co_return fail(p.status());
  int code = co_await attach(rt, **p, interactive);
  (void)co_await g.connection().waitForExit(c->id);
  Status st = co_await removeContainer(g, *c);
  if (!st.ok()) co_return fail(st);
  co_return code;
}

Task<int> uvmCmd(runtime::RealRuntime& rt, functional::GcsGuest& g, std::vector<std::string> args, bool interactive) {
  bridge::ProcessParameters pp;
  pp.commandArgs = args;
  std::string uvm(bridge::kUvmContainerId);
  bridge::StdioRequest stdio{.in = interactive, .out = true, .err = true};
  auto p = co_await g.connection().executeProcess(uvm, pp, stdio);
  if (!p.ok()) co_return fail(p.status());
  co_return co_await attach(rt, **p, interactive);
}

// ---- bench ----

double ms(runtime::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

Task<int> runProcess(runtime::Runtime& rt, runtime::ProcessSpec spec) {
  auto p = rt.processes().spawn(spec);
  if (!p.ok()) co_return -1;
  co_return (co_await (*p)->wait()).exitCode;
}

// (Outside the coroutine: GCC 12 mishandles initializer lists in coroutines.)
void removeBenchCgroups() {
  std::error_code ec;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) ::rmdir((h.path().string() + "/gcs-bench").c_str());
  ::rmdir("/sys/fs/cgroup/gcs-bench");
}

runtime::ProcessSpec runcRunSpec(const std::string& runcRoot, const std::string& bundle, const std::string& id) {
  runtime::ProcessSpec spec{.path = "runc", .args = {"runc", "--root", runcRoot, "run", "--bundle", bundle, id}};
  spec.stdinMode = runtime::StdioMode::kNull;
  spec.stdoutMode = runtime::StdioMode::kNull;
  return spec;
}

Task<int> bench(runtime::RealRuntime& rt, functional::GcsGuest& g, int iterations, uint64_t relayMiB) {
  auto& loop = rt.loop();
  // 1. Bridge round trip.
  std::vector<double> rtt;
  for (int i = 0; i < 2000; ++i) {
    auto t0 = loop.now();
    auto r = co_await g.connection().dumpStacks();
    if (!r.ok()) co_return fail(r.status());
    rtt.push_back(ms(loop.now() - t0) * 1000.0);
  }
  std::printf("bridge round trip (DumpStacks, hybrid vsock): p50 %.1f us, p99 %.1f us over %zu requests\n",
              percentile(rtt, 0.5), percentile(rtt, 0.99), rtt.size());

  // 2. Stdio relay: a UVM process writes relayMiB of zeros to stdout.
  bridge::ProcessParameters pp;
  pp.commandArgs = {"head", "-c", std::to_string(relayMiB << 20), "/dev/zero"};
  std::string uvm(bridge::kUvmContainerId);
  auto t0 = loop.now();
  bridge::StdioRequest outOnly{.out = true};
  auto p = co_await g.connection().executeProcess(uvm, pp, outOnly);
  if (!p.ok()) co_return fail(p.status());
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  for (;;) {
    auto n = co_await (*p)->stdoutStream()->read(std::span<char>(buf.data(), buf.size()));
    if (!n.ok() || *n == 0) break;
    total += *n;
  }
  double secs = ms(loop.now() - t0) / 1000.0;
  (void)co_await (*p)->wait();
  std::printf("stdio relay: %llu MiB in %.3f s = %.2f GiB/s\n", static_cast<unsigned long long>(total >> 20), secs,
              static_cast<double>(total) / (1 << 30) / secs);

  // 3. Container create+start+wait of `true`: through gcs vs bare runc run.
  if (geteuid() != 0) {
    std::printf("container comparison skipped: needs root\n");
    co_return 0;
  }
  auto prep = prepare(g);
  if (!prep.ok()) co_return fail(prep.status());
  std::string runcRoot = g.dir() + "/bare-runc";
  fs::create_directories(runcRoot);
  gcs::LinuxMounter mounter;
  std::vector<double> viaGcs, bare;
  for (int i = 0; i < iterations; ++i) {
    // Through the agent: layers, create, start, init `true`, wait, delete.
    std::string id = "b" + std::to_string(i);
    auto t1 = loop.now();
    std::vector<std::string> noLayers, trueArgs = {"true"};
    auto c = co_await makeContainer(g, *prep, id, noLayers, trueArgs);
    if (!c.ok()) co_return fail(c.status());
    bridge::ProcessParameters init;
    bridge::StdioRequest none;
    auto proc = co_await g.connection().executeProcess(id, init, none);
    if (!proc.ok()) co_return fail(proc.status());
    (void)co_await (*proc)->wait();
    Status st = co_await removeContainer(g, *c);
    if (!st.ok()) co_return fail(st);
    viaGcs.push_back(ms(loop.now() - t1));

    // Bare: the same overlay root and spec, `runc run`, unmount.
    std::string bid = "bare" + std::to_string(i);
    std::string bundle = g.dir() + "/bundles/" + bid, root = g.dir() + "/rootfs/" + bid,
                scratch = g.dir() + "/scratch/" + bid;
    auto t2 = loop.now();
    fs::create_directories(bundle);
    fs::create_directories(root);
    fs::create_directories(scratch + "/upper");
    fs::create_directories(scratch + "/work");
    std::vector<std::string> lower = {prep->busybox};
    st = mounter.mount("overlay", root, "overlay", 0, gcs::overlayOptions(lower, scratch));
    if (!st.ok()) co_return fail(st);
    Json spec = prep->spec;
    spec["root"]["path"] = root;
    spec["linux"]["cgroupsPath"] = "/gcs-bench/" + bid;
    std::ofstream(bundle + "/config.json") << spec.dump();
    runtime::ProcessSpec runcRun = runcRunSpec(runcRoot, bundle, bid);
    int code = co_await runProcess(rt, runcRun);
    (void)mounter.unmount(root);
    bare.push_back(ms(loop.now() - t2));
    if (code != 0) co_return fail(InternalError("runc run exited " + std::to_string(code)));
  }
  removeBenchCgroups();
  double a = percentile(viaGcs, 0.5), b = percentile(bare, 0.5);
  std::printf("container create+start+wait of `true` (median of %d): through gcs %.1f ms, bare runc run %.1f ms, "
              "ratio %.2f\n",
              iterations, a, b, a / b);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  std::vector<std::string> layers;
  bool interactive = false, tty = false, both = false, debug = false;
  int64_t iterations = 20, relayMiB = 1024;
  FlagSet flags("gcshost");
  flags.boolean("i", &interactive, "keep stdin open");
  flags.boolean("t", &tty, "a terminal");
  flags.boolean("it", &both, "-i and -t");
  flags.boolean("ti", &both, "-i and -t");
  flags.strings("layer", &layers, "a layer directory (repeatable)");
  flags.integer("iterations", &iterations, "runs to time (bench)");
  flags.integer("relay-mib", &relayMiB, "MiB to relay (bench)");
  flags.boolean("debug", &debug, "log debug events");
  auto parsed = flags.parse(argc - 1, argv + 1);
  if (!parsed.ok() || iterations < 1 || relayMiB < 1) {
    if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().message().c_str());
    return usage();
  }
  std::vector<std::string> args = *parsed;
  if (both) interactive = tty = true;
  if (debug) log::setLevel(LogLevel::kDebug);
  if ((cmd == "run" || cmd == "uvm") && args.empty()) return usage();
  if (cmd != "run" && cmd != "uvm" && cmd != "bench") return usage();
  if (!getenv("GCSHOST_DEBUG")) log::setLevel(LogLevel::kWarn);
  auto rt = runtime::RealRuntime::create("gcshost");
  if (!rt.ok()) return fail(rt.status());
  functional::GcsGuest::Options o;
  if (!getenv("GCSHOST_DEBUG")) o.extraArgs = {"-quiet"};
  auto g = functional::GcsGuest::start(**rt, o);
  if (!g.ok()) return fail(g.status());
  int code;
  if (cmd == "run") {
    code = runtime::blockOn((*rt)->loop(), runCmd(**rt, **g, layers, args, interactive, tty));
  } else if (cmd == "uvm") {
    code = runtime::blockOn((*rt)->loop(), uvmCmd(**rt, **g, args, interactive));
  } else {
    code = runtime::blockOn((*rt)->loop(), bench(**rt, **g, iterations, relayMiB));
  }
  g->reset();
  runtime::drain((*rt)->loop());
  return code;
}
