// shimbench: containerd-shim-runhcs-v1 against Debian's runc v2 shim, side
// by side in one run on the same locally built busybox image, through a
// private containerd (and a private fake HCS for runhcs):
//   - `ctr run --rm IMAGE id true` wall time (medians, alternating)
//   - runhcs with ext4 layer images (cold, warm) vs Plan9 shares
//   - shim resident memory with one container running (RSS and PSS)
//   - `ctr task exec ... true` round trip (medians)
//
//   shimbench [--iterations N] [--mappings]
//
// --mappings prints where each shim's resident memory is (per mapped file).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "functional/harness/containerd.h"
#include "functional/harness/gcs_guest.h"
#include "functional/harness/hcs_fake_daemon.h"
#include "functional/harness/oci_image.h"
#include "src/common/flags.h"
#include "src/runtime/read_file.h"
#include "src/common/log.h"
#include "src/runtime/real_runtime.h"

namespace {

using namespace hcsshim;
namespace fs = std::filesystem;

constexpr const char* kImage = "docker.io/library/busybox:shimbench";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// printMappings: Rss/Pss (KiB) summed per mapped file (anonymous as "[anon]").
void printMappings(const fs::path& smaps, const std::string& who) {
  std::ifstream in(smaps);
  std::map<std::string, std::pair<uint64_t, uint64_t>> sum;
  std::string line, current = "[anon]";
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string first;
    ls >> first;
    if (first.find('-') != std::string::npos && first.back() != ':') {
      std::string perms, off, dev, inode, name;
      ls >> perms >> off >> dev >> inode;
      std::getline(ls >> std::ws, name);
      current = name.empty() ? "[anon]" : name;
    } else if (first == "Rss:") {
      uint64_t v = 0;
      ls >> v;
      sum[current].first += v;
    } else if (first == "Pss:") {
      uint64_t v = 0;
      ls >> v;
      sum[current].second += v;
    }
  }
  std::fprintf(stderr, "%s mappings (KiB rss/pss):\n", who.c_str());
  for (auto& [name, v] : sum) {
    if (v.first) std::fprintf(stderr, "  %6lu %6lu %s\n", static_cast<unsigned long>(v.first),
                              static_cast<unsigned long>(v.second), name.c_str());
  }
}

// memoryOf: (RSS, PSS) in KiB of the first process whose command line has all needles.
std::pair<uint64_t, uint64_t> memoryOf(std::vector<std::string> needles, bool mappings) {
  std::error_code ec;
  for (const auto& p : fs::directory_iterator("/proc", ec)) {
    std::string line = runtime::readFile(std::string(p.path() / "cmdline")).value_or("");
    bool all = !line.empty();
    for (auto& n : needles) all = all && line.find(n) != std::string::npos;
    if (!all) continue;
    if (mappings) printMappings(p.path() / "smaps", needles[0]);
    std::ifstream smaps(p.path() / "smaps_rollup");
    std::string key;
    uint64_t value = 0, rss = 0, pss = 0;
    while (smaps >> key) {
      if (key == "Rss:" && smaps >> value) rss = value;
      if (key == "Pss:" && smaps >> value) pss = value;
      smaps.ignore(1 << 12, '\n');
    }
    return {rss, pss};
  }
  return {0, 0};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t iterationsFlag = 15;
  bool mappings = false;
  FlagSet flags("shimbench");
  flags.integer("iterations", &iterationsFlag, "runs to time");
  flags.boolean("mappings", &mappings, "print the shim's memory mappings");
  auto parsed = flags.parse(argc, argv);
  if (!parsed.ok() || !parsed->empty() || iterationsFlag < 1) {
    std::fprintf(stderr, "%s\nusage: shimbench [flags]\n%s", parsed.ok() ? "shimbench: bad arguments" : parsed.status().message().c_str(),
                 flags.usage().c_str());
    return 2;
  }
  int iterations = static_cast<int>(iterationsFlag);
  log::setLevel(LogLevel::kWarn);
  auto rt = std::move(*runtime::RealRuntime::create("shimbench"));
  char tmpl[] = "/tmp/shimbench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto hcs = functional::HcsFakeDaemon::start(*rt, dir, {"-quiet"});
  if (!hcs.ok()) {
    std::fprintf(stderr, "shimbench: %s\n", hcs.status().toString().c_str());
    return 1;
  }
  functional::ContainerdOptions o;
  o.env["HCS_FAKE_ADDRESS"] = (*hcs)->address();
  o.env["HCSSHIM_LAYER_STORE"] = dir + "/layers";
  o.pathPrepend = fs::path(functional::HcsFakeDaemon::runfile("src/shim/cmd/containerd-shim-runhcs-v1")).parent_path();
  auto ctd = runtime::blockOn(rt->loop(), functional::ContainerdInstance::start(*rt, o));
  if (!ctd.ok()) {
    std::fprintf(stderr, "shimbench: %s\n", ctd.status().toString().c_str());
    return 1;
  }
  auto ctr = [&](std::vector<std::string> args) { return runtime::blockOn(rt->loop(), (*ctd)->ctrOutput(args)); };
  auto layer = functional::makeBusyboxLayer(*rt, dir);
  auto tar = layer.ok() ? functional::buildImageTar(*rt, *layer, dir, kImage) : StatusOr<std::string>(layer.status());
  if (!tar.ok() || ctr({"images", "import", *tar}).first != 0) {
    std::fprintf(stderr, "shimbench: image import failed\n");
    return 1;
  }
  const char* runtimes[] = {"io.containerd.runc.v2", "io.containerd.runhcs.v1"};
  auto now = [&] { return rt->loop().now(); };
  auto ms = [](runtime::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); };

  // 1. ctr run --rm ... true, alternating.
  std::vector<double> run[2];
  for (int i = 0; i < iterations; ++i) {
    for (int r = 0; r < 2; ++r) {
      std::string id = "run" + std::to_string(r) + "-" + std::to_string(i);
      auto t0 = now();
      auto [code, out] = ctr({"run", "--rm", "--runtime", runtimes[r], kImage, id, "true"});
      run[r].push_back(ms(now() - t0));
      if (code != 0) std::fprintf(stderr, "shimbench: %s run failed: %s\n", runtimes[r], out.c_str());
    }
  }
  // 4. runhcs's layer transports: ext4 images cold (the store holds none:
  // the layer is converted), Plan9 shares, alternating; then ext4 warm (a
  // running task holds the image).
  std::vector<double> layers[3];
  const std::string plan9 = "io.hcsshim-cpp.lcow.layers=plan9";
  for (int i = 0; i < iterations; ++i) {
    for (int k = 0; k < 2; ++k) {
      std::vector<std::string> args = {"run", "--rm", "--runtime", runtimes[1]};
      if (k == 1) args.insert(args.end(), {"--annotation", plan9});
      args.insert(args.end(), {kImage, "layers" + std::to_string(k) + "-" + std::to_string(i), "true"});
      auto t0 = now();
      auto [code, out] = ctr(args);
      layers[k == 0 ? 0 : 2].push_back(ms(now() - t0));
      if (code != 0) std::fprintf(stderr, "shimbench: layers run failed: %s\n", out.c_str());
    }
  }
  ctr({"run", "-d", "--runtime", runtimes[1], kImage, "holder", "sleep", "1000"});
  for (int i = 0; i < iterations; ++i) {
    auto t0 = now();
    auto [code, out] = ctr({"run", "--rm", "--runtime", runtimes[1], kImage, "warm" + std::to_string(i), "true"});
    layers[1].push_back(ms(now() - t0));
    if (code != 0) std::fprintf(stderr, "shimbench: warm run failed: %s\n", out.c_str());
  }
  ctr({"task", "kill", "-s", "SIGKILL", "holder"});
  for (int i = 0; i < 200 && ctr({"task", "delete", "holder"}).first != 0; ++i) usleep(25000);
  ctr({"containers", "delete", "holder"});
  // 2. Memory with one container each, and 3. exec round trips.
  std::vector<double> exec[2];
  std::pair<uint64_t, uint64_t> mem[2];
  for (int r = 0; r < 2; ++r) {
    std::string id = "mem" + std::to_string(r);
    ctr({"run", "-d", "--runtime", runtimes[r], kImage, id, "sleep", "1000"});
    usleep(300000);
    mem[r] = memoryOf({r == 0 ? "containerd-shim-runc-v2" : "containerd-shim-runhcs-v1", id}, mappings);
    for (int i = 0; i < iterations; ++i) {
      auto t0 = now();
      ctr({"task", "exec", "--exec-id", "e" + std::to_string(i), id, "true"});
      exec[r].push_back(ms(now() - t0));
    }
    ctr({"task", "kill", "-s", "SIGKILL", id});
    for (int i = 0; i < 200 && ctr({"task", "delete", id}).first != 0; ++i) usleep(25000);
    ctr({"containers", "delete", id});
  }
  std::printf("| measurement | runc v2 shim | runhcs v1 shim | ratio |\n|---|---|---|---|\n");
  std::printf("| `ctr run --rm IMAGE id true` (median of %d) | %.0f ms | %.0f ms | %.2f |\n", iterations, median(run[0]),
              median(run[1]), median(run[1]) / median(run[0]));
  std::printf("| shim RSS, one container running | %.1f MiB | %.1f MiB | %.2f |\n", mem[0].first / 1024.0,
              mem[1].first / 1024.0, static_cast<double>(mem[1].first) / static_cast<double>(mem[0].first));
  std::printf("| shim PSS, one container running | %.1f MiB | %.1f MiB | %.2f |\n", mem[0].second / 1024.0,
              mem[1].second / 1024.0, static_cast<double>(mem[1].second) / static_cast<double>(mem[0].second));
  std::printf("| `ctr task exec ... true` (median of %d) | %.0f ms | %.0f ms | %.2f |\n", iterations, median(exec[0]),
              median(exec[1]), median(exec[1]) / median(exec[0]));
  std::printf("\n| runhcs `ctr run --rm IMAGE id true` (median of %d) | ext4 layer images | Plan9 shares | ratio |\n"
              "|---|---|---|---|\n", iterations);
  std::printf("| cold (the layer converted first) | %.0f ms | %.0f ms | %.2f |\n", median(layers[0]), median(layers[2]),
              median(layers[0]) / median(layers[2]));
  std::printf("| warm (the image held by a running task) | %.0f ms | %.0f ms | %.2f |\n", median(layers[1]),
              median(layers[2]), median(layers[1]) / median(layers[2]));
  (void)runtime::blockOn(rt->loop(), (*ctd)->stop());
  (*hcs)->stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
