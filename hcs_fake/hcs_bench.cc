// Fake HCS throughput: the Container compute system lifecycle
// (create -> start -> terminate -> close) in-process and through the daemon
// protocol over a unix socket, and a process create->exit round trip through
// HCS compared with a bare fork/exec of the same program, side by side.
//
//   bazel run -c opt //hcs_fake:hcs_bench
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "hcs_fake/daemon_service.h"
#include "hcs_fake/service.h"
#include "platforms/linux/daemon_hcs.h"
#include "src/hcs/compute_system.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using runtime::Task;

constexpr char kDoc[] = R"({"Owner":"bench","SchemaVersion":{"Major":2,"Minor":1},"Container":{}})";

// Rig: a fake HCS reached in-process or through the daemon protocol.
struct Rig {
  std::unique_ptr<runtime::RealRuntime> rt;
  std::unique_ptr<hcs_fake::FakeHcsService> service;
  std::unique_ptr<hcs_fake::InProcessHcs> inProcess;
  std::unique_ptr<ttrpc::Server> server;
  std::unique_ptr<hcs_fake::DaemonService> daemon;
  std::unique_ptr<platforms::DaemonHcs> wire;
  std::string dir;
  hcs::HcsApi* api = nullptr;

  explicit Rig(bool overWire) {
    rt = std::move(*runtime::RealRuntime::create("bench"));
    service = std::make_unique<hcs_fake::FakeHcsService>(*rt);
    if (!overWire) {
      inProcess = std::make_unique<hcs_fake::InProcessHcs>(*service);
      api = inProcess.get();
      return;
    }
    char tmpl[] = "/tmp/hcs-bench-XXXXXX";
    dir = mkdtemp(tmpl);
    std::filesystem::create_directories(dir + "/stdio");
    server = std::make_unique<ttrpc::Server>(*rt);
    daemon = std::make_unique<hcs_fake::DaemonService>(*rt, *service, *server, dir + "/stdio");
    runtime::spawn([](ttrpc::Server& s, std::unique_ptr<runtime::Listener> l) -> Task<void> {
      (void)co_await s.serve(std::move(l));
    }(*server, std::move(*rt->transport().listen(dir + "/hcs.sock"))));
    wire = std::move(*runtime::blockOn(rt->loop(), platforms::DaemonHcs::connect(*rt, "unix://" + dir + "/hcs.sock")));
    api = wire.get();
  }
  ~Rig() {
    runtime::blockOn(rt->loop(), service->shutdownService());
    wire.reset();
    if (server) {
      server->shutdown();
      rt->loop().runUntil([&] { return server->connectionCount() == 0 && server->activeCalls() == 0; });
      std::filesystem::remove_all(dir);
    }
    runtime::drain(rt->loop());
  }
};

Task<bool> lifecycle(hcs::HcsApi& api, std::string id) {
  auto h = co_await api.createComputeSystem(id, kDoc);
  if (!h.ok()) co_return false;
  bool ok = (co_await api.startComputeSystem(*h, "")).ok() && (co_await api.terminateComputeSystem(*h, "")).ok();
  api.closeComputeSystem(*h);
  co_return ok;
}

void systemLifecycle(benchmark::State& state, bool overWire) {
  Rig rig(overWire);
  uint64_t n = 0;
  for (auto _ : state) {
    if (!runtime::blockOn(rig.rt->loop(), lifecycle(*rig.api, "b" + std::to_string(n++)))) {
      state.SkipWithError("lifecycle failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ContainerLifecycleInProcess(benchmark::State& state) { systemLifecycle(state, false); }
BENCHMARK(BM_ContainerLifecycleInProcess)->UseRealTime();
void BM_ContainerLifecycleDaemonProtocol(benchmark::State& state) { systemLifecycle(state, true); }
BENCHMARK(BM_ContainerLifecycleDaemonProtocol)->UseRealTime();

void processRoundTrip(benchmark::State& state, bool overWire) {
  Rig rig(overWire);
  auto cs = std::move(*runtime::blockOn(rig.rt->loop(), hcs::ComputeSystem::create(*rig.api, rig.rt->loop(), "p", kDoc)));
  if (!runtime::blockOn(rig.rt->loop(), cs->start()).ok()) {
    state.SkipWithError("start failed");
    return;
  }
  schema::ProcessParameters pp;
  pp.commandArgs = {"/bin/true"};
  for (auto _ : state) {
    int code = runtime::blockOn(rig.rt->loop(), [](hcs::ComputeSystem& cs, schema::ProcessParameters pp) -> Task<int> {
      auto p = co_await cs.createProcess(pp);
      if (!p.ok()) co_return -1;
      co_return co_await (*p)->wait();
    }(*cs, pp));
    if (code != 0) {
      state.SkipWithError("process failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  (void)runtime::blockOn(rig.rt->loop(), cs->terminate());
}

void BM_ProcessCreateExitInProcess(benchmark::State& state) { processRoundTrip(state, false); }
BENCHMARK(BM_ProcessCreateExitInProcess)->UseRealTime();
void BM_ProcessCreateExitDaemonProtocol(benchmark::State& state) { processRoundTrip(state, true); }
BENCHMARK(BM_ProcessCreateExitDaemonProtocol)->UseRealTime();

// The baseline: fork/exec/wait of the same program, nothing else.
void BM_BareForkExecWait(benchmark::State& state) {
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/true", "true", nullptr);
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      state.SkipWithError("true failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BareForkExecWait)->UseRealTime();

}  // namespace
}  // namespace hcsshim
