#include "hcs_fake/host_service.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/wait_for.h"

namespace hcsshim::hcs_fake {

namespace fs = std::filesystem;
using runtime::Task;
using namespace std::chrono_literals;

ServicePaths servicePaths(const std::string& address, const std::string& stateDir) {
  return ServicePaths{address, stateDir + "/hcs_fake.pid", stateDir + "/hcs_fake.log"};
}

namespace {

int pidIn(const std::string& pidFile) {
  auto text = runtime::readFile(pidFile, 64);
  if (!text) return 0;
  int pid = std::atoi(text->c_str());
  return pid > 0 && ::kill(pid, 0) == 0 ? pid : 0;
}

Task<bool> serving(runtime::Runtime& rt, std::string address) {
  auto s = co_await rt.transport().connect(address);
  if (!s.ok()) co_return false;
  (*s)->close();
  co_return true;
}

std::string tail(const std::string& path) {
  std::string text = runtime::readFile(path, 1 << 20).value_or("");
  size_t start = text.size() > 2000 ? text.size() - 2000 : 0;
  return text.substr(start);
}

}  // namespace

void writePidFile(const std::string& path) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << getpid() << "\n";
  std::error_code ec;
  fs::rename(tmp, path, ec);
}

void removePidFile(const std::string& path) {
  auto text = runtime::readFile(path, 64);
  if (text && std::atoi(text->c_str()) == getpid()) ::unlink(path.c_str());
}

int detach(const std::string& self, const std::vector<std::string>& daemonArgs, const ServicePaths& paths) {
  auto rt = runtime::RealRuntime::create("hcs_fake-detach");
  if (!rt.ok()) return 1;
  if (runtime::blockOn((*rt)->loop(), serving(**rt, paths.address))) {
    int pid = pidIn(paths.pidFile);
    std::printf("hcs_fake: already running at %s%s\n", paths.address.c_str(),
                pid ? (" (pid " + std::to_string(pid) + ")").c_str() : "");
    return 0;
  }
  std::error_code ec;
  fs::create_directories(fs::path(paths.logFile).parent_path(), ec);
  // The daemon runs from "/": name this binary absolutely (found through
  // PATH: the running executable).
  std::string exe = self.find('/') == std::string::npos ? fs::read_symlink("/proc/self/exe", ec).string()
                                                        : fs::absolute(self, ec).string();
  runtime::ProcessSpec spec{.path = exe, .args = {exe}};
  spec.args.insert(spec.args.end(), daemonArgs.begin(), daemonArgs.end());
  spec.args.push_back("--log-file");
  spec.args.push_back(paths.logFile);
  spec.newSession = true;         // no controlling terminal, not in our process group
  spec.killOnParentDeath = false;  // it outlives this command
  spec.stdinMode = spec.stdoutMode = spec.stderrMode = runtime::StdioMode::kNull;
  spec.cwd = "/";
  auto p = (*rt)->processes().spawn(spec);
  if (!p.ok()) {
    std::fprintf(stderr, "hcs_fake: cannot start the daemon: %s\n", p.status().toString().c_str());
    return 1;
  }
  runtime::Process& daemon = **p;
  bool up = runtime::blockOn((*rt)->loop(), runtime::waitForAsync(
                                                (*rt)->loop(),
                                                [&]() -> Task<bool> {
                                                  if (daemon.exitStatus()) co_return true;
                                                  co_return pidIn(paths.pidFile) == daemon.pid() &&
                                                      co_await serving(**rt, paths.address);
                                                },
                                                30s, 20ms));
  if (!up || daemon.exitStatus()) {
    std::fprintf(stderr, "hcs_fake: the daemon did not come up at %s%s; its log (%s):\n%s\n", paths.address.c_str(),
                 daemon.exitStatus() ? (" (it exited with code " + std::to_string(daemon.exitStatus()->exitCode) + ")").c_str()
                                     : " within 30 s",
                 paths.logFile.c_str(), tail(paths.logFile).c_str());
    if (!daemon.exitStatus()) (void)daemon.signal(SIGKILL);
    return 1;
  }
  std::printf("hcs_fake: serving at %s (pid %d, log %s, pid file %s)\n", paths.address.c_str(), daemon.pid(),
              paths.logFile.c_str(), paths.pidFile.c_str());
  return 0;
}

int stop(const ServicePaths& paths) {
  int pid = pidIn(paths.pidFile);
  if (!pid) {
    std::printf("hcs_fake: not running (no live pid in %s)\n", paths.pidFile.c_str());
    return 0;
  }
  auto rt = runtime::RealRuntime::create("hcs_fake-stop");
  if (!rt.ok()) return 1;
  ::kill(pid, SIGTERM);
  auto gone = [pid] { return ::kill(pid, 0) != 0; };
  // It stops every compute system first (graceful VM shutdowns take a while).
  if (!runtime::blockOn((*rt)->loop(), runtime::waitFor((*rt)->loop(), gone, 60s, 20ms))) {
    std::fprintf(stderr, "hcs_fake: pid %d did not stop within 60 s of SIGTERM; sending SIGKILL\n", pid);
    ::kill(pid, SIGKILL);
    (void)runtime::blockOn((*rt)->loop(), runtime::waitFor((*rt)->loop(), gone, 10s, 20ms));
    ::unlink(paths.pidFile.c_str());
    return 1;
  }
  std::printf("hcs_fake: stopped (pid %d)\n", pid);
  return 0;
}

int status(const ServicePaths& paths) {
  auto rt = runtime::RealRuntime::create("hcs_fake-status");
  if (!rt.ok()) return 1;
  bool up = runtime::blockOn((*rt)->loop(), serving(**rt, paths.address));
  int pid = pidIn(paths.pidFile);
  if (up) {
    std::printf("hcs_fake: running at %s%s\n", paths.address.c_str(),
                pid ? (" (pid " + std::to_string(pid) + ")").c_str() : "");
    return 0;
  }
  std::printf("hcs_fake: not running at %s\n", paths.address.c_str());
  return 3;
}

}  // namespace hcsshim::hcs_fake
