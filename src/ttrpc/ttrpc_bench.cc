// ttrpc unary round trip latency and throughput: over a real unix socket
// (client and server on one epoll loop, and on two threads), and over the
// simulator's in-memory transport.
//
//   bazel run -c opt //src/ttrpc:ttrpc_bench
//
// Latency benchmarks report p50/p99 of individual round trips as counters
// (microseconds); throughput benchmarks keep `window` calls in flight.
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <vector>

#include "sim/node.h"
#include "src/runtime/real_runtime.h"
#include "src/ttrpc/client.h"
#include "src/ttrpc/server.h"
#include "src/ttrpc/testing/echo_service.h"

namespace hcsshim::ttrpc {
namespace {

using runtime::Task;
using test::EchoRequest;
using test::EchoResponse;

int64_t nowNanos() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void reportPercentiles(benchmark::State& state, std::vector<int64_t>& samples) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  state.counters["p50_us"] = samples[samples.size() / 2] / 1000.0;
  state.counters["p99_us"] = samples[samples.size() * 99 / 100] / 1000.0;
}

std::string tempSocket() {
  char tmpl[] = "/tmp/hcs-bench-XXXXXX";
  return std::string(mkdtemp(tmpl)) + "/ttrpc.sock";
}

// Rig: an echo server and a connected client sharing one loop, over a real
// unix socket or the simulator.
struct Rig {
  std::unique_ptr<runtime::RealRuntime> real;
  std::unique_ptr<sim::World> world;
  runtime::Runtime* serverRt = nullptr;
  runtime::Runtime* clientRt = nullptr;
  std::string path;
  std::unique_ptr<Server> server;
  std::unique_ptr<Client> client;

  static std::unique_ptr<Rig> make(bool simulated) {
    auto r = std::make_unique<Rig>();
    if (simulated) {
      r->world = std::make_unique<sim::World>(1);
      r->serverRt = &r->world->addNode("server");
      r->clientRt = &r->world->addNode("client");
      r->path = "/bench";
    } else {
      r->real = std::move(*runtime::RealRuntime::create("bench"));
      r->serverRt = r->clientRt = r->real.get();
      r->path = tempSocket();
    }
    r->server = std::move(*testing::startEchoServer(*r->serverRt, r->path));
    r->client = std::move(*runtime::blockOn(r->clientRt->loop(), Client::connect(*r->clientRt, r->path)));
    return r;
  }
  ~Rig() {
    client->close();
    testing::stopServer(*server, clientRt->loop());
    if (real) std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  }
};

// One call at a time; `payload` bytes of blob each way.
Task<int> pingLoop(Client& c, benchmark::State& state, std::vector<int64_t>& samples, size_t payload) {
  EchoRequest req;
  req.set_text("ping");
  req.set_blob(std::string(payload, 'x'));
  int errors = 0;
  for (auto _ : state) {
    int64_t t0 = nowNanos();
    auto r = co_await c.call<EchoRequest, EchoResponse>(testing::kEchoService, "Echo", req);
    samples.push_back(nowNanos() - t0);
    if (!r.ok()) ++errors;
  }
  co_return errors;
}

// `window` callers in parallel, each doing calls until `total` are done.
Task<void> caller(Client& c, int& remaining, int& done) {
  EchoRequest req;
  req.set_text("t");
  while (remaining > 0) {
    --remaining;
    (void)co_await c.call<EchoRequest, EchoResponse>(testing::kEchoService, "Echo", req);
    ++done;
  }
}

void latency(benchmark::State& state, bool simulated) {
  auto rig = Rig::make(simulated);
  std::vector<int64_t> samples;
  int errors = runtime::blockOn(rig->clientRt->loop(), pingLoop(*rig->client, state, samples, state.range(0)));
  if (errors) state.SkipWithError("calls failed");
  reportPercentiles(state, samples);
  state.SetItemsProcessed(state.iterations());
}

void throughput(benchmark::State& state, bool simulated) {
  auto rig = Rig::make(simulated);
  const int window = static_cast<int>(state.range(0));
  const int batch = 10000;
  for (auto _ : state) {
    int remaining = batch, done = 0;
    for (int i = 0; i < window; ++i) runtime::spawn(caller(*rig->client, remaining, done));
    rig->clientRt->loop().runUntil([&] { return done == batch; });
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_UnixSameLoopLatency(benchmark::State& state) { latency(state, false); }
BENCHMARK(BM_UnixSameLoopLatency)->Arg(0)->Arg(4096)->Arg(256 << 10)->UseRealTime();

void BM_UnixTwoThreadLatency(benchmark::State& state) {
  // The server runs on its own thread and loop, like a real shim process.
  std::string path = tempSocket();
  std::unique_ptr<runtime::RealRuntime> serverRt;
  std::unique_ptr<Server> server;
  std::atomic<bool> ready{false};
  std::thread serverThread([&] {
    serverRt = std::move(*runtime::RealRuntime::create("bench-server"));
    server = std::move(*testing::startEchoServer(*serverRt, path));
    ready = true;
    serverRt->loop().runUntil([] { return false; });  // until stop()
    testing::stopServer(*server, serverRt->loop());
  });
  while (!ready) std::this_thread::yield();
  auto rt = std::move(*runtime::RealRuntime::create("bench-client"));
  auto client = std::move(*runtime::blockOn(rt->loop(), Client::connect(*rt, path)));
  std::vector<int64_t> samples;
  int errors = runtime::blockOn(rt->loop(), pingLoop(*client, state, samples, state.range(0)));
  if (errors) state.SkipWithError("calls failed");
  reportPercentiles(state, samples);
  state.SetItemsProcessed(state.iterations());
  client->close();
  serverRt->loop().stop();
  serverThread.join();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_UnixTwoThreadLatency)->Arg(0)->Arg(4096)->UseRealTime();

// The floor for BM_UnixTwoThreadLatency: the same message sizes ping-ponged
// between two threads with blocking read/write on a socketpair, no framing,
// no protobuf, no event loop.
void BM_RawSocketPairTwoThreadPingPong(benchmark::State& state) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    state.SkipWithError("socketpair");
    return;
  }
  const size_t request = 10 + 16 + state.range(0);  // header + a small Request
  const size_t response = 10 + 8 + state.range(0);
  std::thread echo([&] {
    std::vector<char> buf(request);
    for (;;) {
      size_t got = 0;
      while (got < request) {
        ssize_t n = ::read(fds[1], buf.data() + got, request - got);
        if (n <= 0) return;
        got += static_cast<size_t>(n);
      }
      std::vector<char> out(response, 'r');
      if (::write(fds[1], out.data(), out.size()) != static_cast<ssize_t>(out.size())) return;
    }
  });
  std::vector<char> req(request, 'q'), resp(response);
  std::vector<int64_t> samples;
  for (auto _ : state) {
    int64_t t0 = nowNanos();
    if (::write(fds[0], req.data(), req.size()) != static_cast<ssize_t>(req.size())) break;
    size_t got = 0;
    while (got < response) {
      ssize_t n = ::read(fds[0], resp.data() + got, response - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    samples.push_back(nowNanos() - t0);
  }
  reportPercentiles(state, samples);
  state.SetItemsProcessed(state.iterations());
  ::shutdown(fds[0], SHUT_RDWR);
  echo.join();
  ::close(fds[0]);
  ::close(fds[1]);
}
BENCHMARK(BM_RawSocketPairTwoThreadPingPong)->Arg(0)->Arg(4096)->UseRealTime();

void BM_UnixThroughput(benchmark::State& state) { throughput(state, false); }
BENCHMARK(BM_UnixThroughput)->Arg(1)->Arg(16)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

// Wall-clock cost of one simulated round trip (what a simulation run pays).
void BM_SimLatency(benchmark::State& state) { latency(state, true); }
BENCHMARK(BM_SimLatency)->Arg(0)->Arg(4096)->UseRealTime();

void BM_SimThroughput(benchmark::State& state) { throughput(state, true); }
BENCHMARK(BM_SimThroughput)->Arg(1)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hcsshim::ttrpc
