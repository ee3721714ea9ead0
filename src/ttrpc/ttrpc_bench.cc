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

Task<void> serveForever(Server& s, std::unique_ptr<runtime::Listener> l) { (void)co_await s.serve(std::move(l)); }

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

void BM_UnixSameLoopLatency(benchmark::State& state) {
  auto rt = std::move(*runtime::RealRuntime::create("bench"));
  std::string path = tempSocket();
  Server server(*rt);
  testing::registerEcho(server, *rt);
  runtime::spawn(serveForever(server, std::move(*rt->transport().listen(path))));
  auto client = std::move(*runtime::blockOn(rt->loop(), Client::connect(*rt, path)));
  std::vector<int64_t> samples;
  int errors = runtime::blockOn(rt->loop(), pingLoop(*client, state, samples, state.range(0)));
  if (errors) state.SkipWithError("calls failed");
  reportPercentiles(state, samples);
  state.SetItemsProcessed(state.iterations());
  client->close();
  server.shutdown();
  rt->loop().runUntil([&] { return server.connectionCount() == 0; });
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_UnixSameLoopLatency)->Arg(0)->Arg(4096)->Arg(256 << 10)->UseRealTime();

void BM_UnixTwoThreadLatency(benchmark::State& state) {
  // The server runs on its own thread and loop, like a real shim process.
  std::string path = tempSocket();
  std::unique_ptr<runtime::RealRuntime> serverRt;
  std::unique_ptr<Server> server;
  std::atomic<bool> ready{false};
  std::thread serverThread([&] {
    serverRt = std::move(*runtime::RealRuntime::create("bench-server"));
    server = std::make_unique<Server>(*serverRt);
    testing::registerEcho(*server, *serverRt);
    runtime::spawn(serveForever(*server, std::move(*serverRt->transport().listen(path))));
    ready = true;
    serverRt->loop().runUntil([] { return false; });  // until stop()
    server->shutdown();
    serverRt->loop().runUntil([&] { return server->connectionCount() == 0; });
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

void BM_UnixThroughput(benchmark::State& state) {
  auto rt = std::move(*runtime::RealRuntime::create("bench"));
  std::string path = tempSocket();
  Server server(*rt);
  testing::registerEcho(server, *rt);
  runtime::spawn(serveForever(server, std::move(*rt->transport().listen(path))));
  auto client = std::move(*runtime::blockOn(rt->loop(), Client::connect(*rt, path)));
  const int window = static_cast<int>(state.range(0));
  const int batch = 10000;
  for (auto _ : state) {
    int remaining = batch, done = 0;
    for (int i = 0; i < window; ++i) runtime::spawn(caller(*client, remaining, done));
    rt->loop().runUntil([&] { return done == batch; });
  }
  state.SetItemsProcessed(state.iterations() * batch);
  client->close();
  server.shutdown();
  rt->loop().runUntil([&] { return server.connectionCount() == 0; });
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_UnixThroughput)->Arg(1)->Arg(16)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_SimLatency(benchmark::State& state) {
  // Wall-clock cost of one simulated round trip (what a simulation run pays).
  sim::World world(1);
  sim::Node& s = world.addNode("server");
  sim::Node& c = world.addNode("client");
  Server server(s);
  testing::registerEcho(server, s);
  runtime::spawn(serveForever(server, std::move(*s.transport().listen("/bench"))));
  auto client = std::move(*runtime::blockOn(c.loop(), Client::connect(c, "/bench")));
  std::vector<int64_t> samples;
  int errors = runtime::blockOn(c.loop(), pingLoop(*client, state, samples, state.range(0)));
  if (errors) state.SkipWithError("calls failed");
  reportPercentiles(state, samples);
  state.SetItemsProcessed(state.iterations());
  client->close();
  server.shutdown();
  world.runUntil([&] { return server.connectionCount() == 0; });
}
BENCHMARK(BM_SimLatency)->Arg(0)->Arg(4096)->UseRealTime();

void BM_SimThroughput(benchmark::State& state) {
  sim::World world(1);
  sim::Node& s = world.addNode("server");
  sim::Node& c = world.addNode("client");
  Server server(s);
  testing::registerEcho(server, s);
  runtime::spawn(serveForever(server, std::move(*s.transport().listen("/bench"))));
  auto client = std::move(*runtime::blockOn(c.loop(), Client::connect(c, "/bench")));
  const int window = static_cast<int>(state.range(0));
  const int batch = 10000;
  for (auto _ : state) {
    int remaining = batch, done = 0;
    for (int i = 0; i < window; ++i) runtime::spawn(caller(*client, remaining, done));
    world.runUntil([&] { return done == batch; });
  }
  state.SetItemsProcessed(state.iterations() * batch);
  client->close();
  server.shutdown();
  world.runUntil([&] { return server.connectionCount() == 0; });
}
BENCHMARK(BM_SimThroughput)->Arg(1)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hcsshim::ttrpc
