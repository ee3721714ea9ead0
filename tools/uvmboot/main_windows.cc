// uvmboot.exe: boots Linux utility VMs through the host's HCS
// (computecore.dll) and runs a command in each - uvmboot's `lcow` on
// Windows.
//
//   uvmboot.exe lcow [--count N] [--exec CMD] [--boot-files-path DIR]
//                    [--memory MB] [--processors N] [-debug]
//
// The VM's document is src/uvm's (the shim's); the bridge, its stdio and
// the boot-time log and entropy ports are Hyper-V sockets on the VM's
// RuntimeId (src/bridge/hvsock_host.h). Boot files default to the `boot`
// folder next to the executable (the vendor bundle's layout). VMs boot one
// after another; each prints its boot time (create -> negotiated guest
// connection), the command's output and exit code; exit 1 if any failed.
// Where winsock has no AF_HYPERV (Wine) every VM fails at its first
// listener, naming it, and is terminated.
#include <windows.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "platforms/windows/computecore_hcs.h"
#include "platforms/windows/windows_runtime.h"
#include "src/bridge/hvsock_host.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/uvm/uvm.h"
#include "tools/uvmboot/result.h"

namespace {

using namespace hcsshim;
using runtime::Task;
namespace fs = std::filesystem;

int usage() {
  std::fprintf(stderr,
               "usage: uvmboot.exe lcow [--count N] [--exec CMD] [--boot-files-path DIR] [--memory MB] [--processors N] "
               "[-debug]\n");
  return 2;
}

struct Args {
  int count = 1;
  std::string exec, bootFiles;
  uint64_t memoryMB = 512;
  uint32_t processors = 1;
};

using uvmboot::Result;

Task<Result> runOne(runtime::Runtime& rt, hcs::HcsApi& hcs, const Args& args, int index) {
  Result r;
  r.id = "uvmboot-" + std::to_string(GetCurrentProcessId()) + "-" + std::to_string(index);
  uvm::LcowOptions o{.id = r.id, .bootFilesPath = args.bootFiles, .memoryMB = args.memoryMB, .processors = args.processors};
  auto t0 = rt.loop().now();
  auto create_task = uvm::UtilityVM::create(rt, hcs, std::make_unique<bridge::HvSockHost>(rt.transport()), o);
  auto vm = co_await std::move(create_task);
  if (!vm.ok()) {
    r.status = vm.status();
    co_return r;
  }
  auto start_task = (*vm)->start();
  r.status = co_await std::move(start_task);
  r.bootMs = std::chrono::duration<double, std::milli>(rt.loop().now() - t0).count();
  if (r.status.ok() && !args.exec.empty()) {
    bridge::ProcessParameters pp;
    pp.commandArgs = {"/bin/sh", "-c", args.exec};
    bridge::StdioRequest stdio{.out = true, .err = true};
    auto exec_task = (*vm)->exec(pp, stdio);
    auto p = co_await std::move(exec_task);
    if (!p.ok()) {
      r.status = p.status();
    } else {
      auto out_task = runtime::readToEnd(*(*p)->stdoutStream());
      auto out = co_await std::move(out_task);
      auto err_task = runtime::readToEnd(*(*p)->stderrStream());
      auto err = co_await std::move(err_task);
      if (out.ok()) r.output += *out;
      if (err.ok()) r.output += *err;
      auto wait_task = (*p)->wait();
      auto code = co_await std::move(wait_task);
      if (code.ok()) r.exitCode = static_cast<int>(*code);
      if (!code.ok()) r.status = code.status();
    }
  }
  auto close_task = (*vm)->close();
  Status closed = co_await std::move(close_task);
  if (r.status.ok()) r.status = closed;
  co_return r;
}

Task<int> runAll(runtime::Runtime& rt, hcs::HcsApi& hcs, Args args) {
  int failed = 0;
  for (int i = 0; i < args.count; ++i) {
    auto one_task = runOne(rt, hcs, args, i);
    Result r = co_await std::move(one_task);
    failed += uvmboot::print(r, !args.exec.empty()) ? 1 : 0;
  }
  std::printf("%d VMs in sequence, %d failed\n", args.count, failed);
  co_return failed ? 1 : 0;
}

std::string exeDir() {
  wchar_t path[MAX_PATH * 2];
  DWORD n = GetModuleFileNameW(nullptr, path, static_cast<DWORD>(std::size(path)));
  if (n == 0 || n >= std::size(path)) return ".";
  return fs::path(std::wstring(path, n)).parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "lcow") return usage();
  Args args;
  int64_t count = 1, memory = 512, processors = 1;
  bool debug = false;
  FlagSet flags("uvmboot");
  flags.integer("count", &count, "VMs to boot, one after another");
  flags.string("exec", &args.exec, "a command to run in each VM");
  flags.string("boot-files-path", &args.bootFiles, "the folder with the kernel and initrd.img (default: boot next to uvmboot.exe)");
  flags.integer("memory", &memory, "MB per VM");
  flags.integer("processors", &processors, "vCPUs per VM");
  flags.boolean("debug", &debug, "log debug events");
  auto parsed = flags.parse(argc - 1, argv + 1);
  if (!parsed.ok() || !parsed->empty() || count < 1 || memory < 1 || processors < 1) {
    if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().message().c_str());
    return usage();
  }
  args.count = static_cast<int>(count);
  args.memoryMB = static_cast<uint64_t>(memory);
  args.processors = static_cast<uint32_t>(processors);
  if (args.bootFiles.empty()) args.bootFiles = (fs::path(exeDir()) / "boot").string();
  log::setLevel(debug ? LogLevel::kDebug : LogLevel::kWarn);
  auto rt = platforms::windows::WindowsRuntime::create("uvmboot");
  if (!rt.ok()) {
    std::fprintf(stderr, "uvmboot: %s\n", rt.status().toString().c_str());
    return 1;
  }
  int code = 1;
  {
    platforms::windows::ComputeCoreHcs hcs((*rt)->loop());
    code = runtime::blockOn((*rt)->loop(), runAll(**rt, hcs, args));
    runtime::drain((*rt)->loop());
  }
  return code;
}
