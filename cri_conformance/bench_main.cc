// cribench: the CRI path's cost per runtime handler, side by side in one
// run (docs/benchmarks.md) - what the kubelet waits for to get a pod's
// first container running, and how many such pods fit in memory.
//
//   bazel run -c opt //cri_conformance:cribench -- [--iterations=N] [--pods=K]
//
// For each handler (runhcs, runc): N times RunPodSandbox + CreateContainer
// + StartContainer (wall time, median and min), each pod then stopped and
// removed; then K pods with a sleeping container at once, the memory they
// take (the PSS of the processes they add, per pod) and what that makes
// of a 1 GiB budget. Needs root, containerd, docker-registry.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cri_conformance/stack.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/runtime/real_runtime.h"

namespace {

using namespace hcsshim;
using Clock = std::chrono::steady_clock;

// pssByPid: the proportional set size (KiB) of every process on the host
// (shared pages split among their users).
std::map<int, long> pssByPid() {
  std::map<int, long> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "smaps_rollup");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Pss:", 0) == 0) {
        out[std::atoi(name.c_str())] = std::atol(line.c_str() + 4);
        break;
      }
    }
  }
  return out;
}

cri::v1::PodSandboxConfig pod(const std::string& handler, int i, const std::string& dir) {
  cri::v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name("bench-" + handler + "-" + std::to_string(i));
  c.mutable_metadata()->set_uid("bench-" + handler + "-uid-" + std::to_string(i));
  c.mutable_metadata()->set_namespace_("cribench");
  c.set_hostname("bench");
  c.set_log_directory(dir + "/logs/" + handler + "-" + std::to_string(i));
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 10, pods = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--iterations=", 0) == 0) iterations = std::max(1, std::atoi(a.c_str() + 13));
    else if (a.rfind("--pods=", 0) == 0) pods = std::max(1, std::atoi(a.c_str() + 7));
    else {
      std::fprintf(stderr, "cribench: unknown argument %s (want --iterations=N --pods=K)\n", a.c_str());
      return 2;
    }
  }
  log::setLevel(LogLevel::kWarn);
  auto rt = hcsshim::runtime::RealRuntime::create("cribench");
  if (!rt.ok()) return 1;
  char tmpl[] = "/tmp/cribench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto reg = cri::Registry::start(**rt, dir);
  if (!reg.ok()) {
    std::fprintf(stderr, "cribench: registry: %s\n", reg.status().toString().c_str());
    return 1;
  }
  cri::TestImages images;
  struct Row {
    std::string handler;
    double medianMs = 0, minMs = 0, perPodMiB = 0;
  };
  std::vector<Row> rows;
  for (const char* handler : {"runhcs", "runc"}) {
    auto stack = cri::CriStack::start(**rt, handler, **reg, images, dir + "/first-" + handler);
    if (!stack.ok()) {
      std::fprintf(stderr, "cribench: %s: %s\n", handler, stack.status().toString().c_str());
      return 1;
    }
    if (images.busybox.empty()) {
      auto pushed = cri::pushTestImages(**rt, (*stack)->containerd(), **reg, dir);
      if (!pushed.ok()) {
        std::fprintf(stderr, "cribench: images: %s\n", pushed.status().toString().c_str());
        return 1;
      }
      images = *pushed;
    }
    stack->reset();
    stack = cri::CriStack::start(**rt, handler, **reg, images, dir + "/" + handler);
    if (!stack.ok()) return 1;
    cri::CriClient& c = (*stack)->cri();
    std::string ref;
    if (!c.pullImage(images.busybox, &ref).ok() || !c.pullImage(images.pause, &ref).ok()) return 1;
    cri::v1::ContainerConfig ctr;
    ctr.mutable_metadata()->set_name("main");
    ctr.mutable_image()->set_image(images.busybox);
    ctr.add_command("sleep");
    ctr.add_command("1000");
    ctr.set_log_path("main.log");
    auto runOne = [&](int i, std::string* podId) -> bool {
      cri::v1::PodSandboxConfig pc = pod(handler, i, dir);
      std::string cid;
      return c.runPodSandbox(pc, handler, podId).ok() && c.createContainer(*podId, ctr, pc, &cid).ok() &&
             c.startContainer(cid).ok();
    };
    Row row{handler};
    std::vector<double> ms;
    for (int i = 0; i < iterations + 1; ++i) {
      std::string id;
      auto t0 = Clock::now();
      bool ok = runOne(i, &id);
      double took = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (!ok) {
        std::fprintf(stderr, "cribench: %s: a pod did not start\n", handler);
        return 1;
      }
      if (i > 0) ms.push_back(took);  // the first warms the caches
      (void)c.stopPodSandbox(id);
      (void)c.removePodSandbox(id);
    }
    std::sort(ms.begin(), ms.end());
    row.medianMs = ms[ms.size() / 2];
    row.minMs = ms.front();
    sleep(1);
    // The processes the pods add (shims, utility VMs, pause and container
    // processes), not what was there before (containerd, the HCS daemon).
    std::map<int, long> before = pssByPid();
    std::vector<std::string> running;
    for (int i = 0; i < pods; ++i) {
      std::string id;
      if (!runOne(1000 + i, &id)) {
        std::fprintf(stderr, "cribench: %s: pod %d of %d did not start\n", handler, i + 1, pods);
        return 1;
      }
      running.push_back(id);
    }
    sleep(2);
    long added = 0;
    for (const auto& [pid, kib] : pssByPid()) {
      if (!before.count(pid)) added += kib;
    }
    row.perPodMiB = static_cast<double>(added) / 1024.0 / pods;
    for (const auto& id : running) {
      (void)c.stopPodSandbox(id);
      (void)c.removePodSandbox(id);
    }
    rows.push_back(row);
    stack->reset();
  }
  std::printf("| handler | RunPodSandbox + CreateContainer + StartContainer, median (min) of %d | memory per running pod (%d at once) | pods in 1 GiB |\n",
              iterations, pods);
  std::printf("|---|---|---|---|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %.0f ms (%.0f ms) | %.1f MiB | %.0f |\n", r.handler.c_str(), r.medianMs, r.minMs, r.perPodMiB,
                r.perPodMiB > 0 ? 1024.0 / r.perPodMiB : 0.0);
  }
  if (rows.size() == 2 && rows[1].medianMs > 0) {
    std::printf("\nratio runhcs / runc: latency %.1fx, memory per pod %.1fx\n", rows[0].medianMs / rows[1].medianMs,
                rows[1].perPodMiB > 0 ? rows[0].perPodMiB / rows[1].perPodMiB : 0.0);
  }
  reg->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
