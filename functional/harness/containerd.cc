#include "functional/harness/containerd.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "src/common/log.h"

extern char** environ;

namespace hcsshim::functional {

using runtime::Task;

namespace {

bool executable(const char* path) { return access(path, X_OK) == 0; }

}  // namespace

bool ContainerdInstance::binaryAvailable() {
  return executable("/usr/bin/containerd") && executable("/usr/bin/ctr");
}

Task<StatusOr<std::unique_ptr<ContainerdInstance>>> ContainerdInstance::start(runtime::Runtime& rt,
                                                                              ContainerdOptions options) {
  if (!binaryAvailable()) co_return NotFoundError("containerd/ctr not installed (run tools/setup)");
  char tmpl[] = "/tmp/hcs-ctd-XXXXXX";
  if (!mkdtemp(tmpl)) co_return errnoStatus(errno, "mkdtemp");
  std::unique_ptr<ContainerdInstance> inst(new ContainerdInstance(rt, tmpl));
  const std::string& d = inst->dir_;
  {
    std::ofstream cfg(d + "/config.toml");
    cfg << "version = 2\n"
        << "root = \"" << d << "/root\"\n"
        << "state = \"" << d << "/state\"\n";
    if (!options.enableCri) cfg << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n";
    cfg << "[grpc]\n  address = \"" << inst->grpcAddress() << "\"\n"
        << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << d << "/opt\"\n"
        << options.extraConfig;
    if (!cfg) co_return InternalError("cannot write " + d + "/config.toml");
  }
  inst->options_ = options;
  HCS_CO_RETURN_IF_ERROR(co_await inst->launch());
  HLOG(Info, "containerd.ready").kv("dir", d).kv("grpc", inst->grpcAddress());
  co_return inst;
}

// launch starts containerd on dir_ and waits until its sockets accept.
Task<Status> ContainerdInstance::launch() {
  ContainerdInstance* inst = this;
  const ContainerdOptions& options = options_;
  const std::string& d = dir_;
  runtime::Runtime& rt = rt_;
  // containerd's own log goes to a file the test can print on failure.
  runtime::ProcessSpec spec{
      .path = "/bin/sh",
      .args = {"sh", "-c",
               "exec /usr/bin/containerd --config \"$1\" --log-level \"$2\" >>\"$3\" 2>&1", "sh",
               d + "/config.toml", options.logLevel, inst->logPath()},
  };
  if (!options.env.empty() || !options.pathPrepend.empty()) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (auto& [k, v] : options.env) env[k] = v;
    if (!options.pathPrepend.empty()) {
      env["PATH"] = options.pathPrepend + ":" + (env.count("PATH") ? env["PATH"] : "/usr/sbin:/usr/bin:/sbin:/bin");
    }
    spec.env = env;
  }
  HCS_CO_ASSIGN_OR_RETURN(inst->process_, rt.processes().spawn(spec));
  HLOG(Info, "containerd.starting").kv("dir", d).kv("pid", inst->process_->pid());

  runtime::TimePoint deadline = rt.loop().now() + options.startTimeout;
  Status last;
  for (;;) {
    if (auto exit = inst->process_->exitStatus()) {
      co_return UnavailableError("containerd exited with code " + std::to_string(exit->exitCode) + " during start; see " +
                                 inst->logPath());
    }
    auto grpc = co_await rt.transport().connect(inst->grpcAddress());
    auto ttrpc = co_await rt.transport().connect(inst->ttrpcAddress());
    if (grpc.ok() && ttrpc.ok()) break;
    last = grpc.ok() ? ttrpc.status() : grpc.status();
    if (rt.loop().now() > deadline) {
      co_return DeadlineExceededError("containerd did not accept connections in time: " + last.toString());
    }
    co_await runtime::sleep(rt.loop(), std::chrono::milliseconds(50));
  }
  co_return OkStatus();
}

Task<Status> ContainerdInstance::restart() {
  if (process_ && !process_->exitStatus()) {
    (void)process_->signal(SIGTERM);
    (void)co_await process_->wait();
  }
  co_return co_await launch();
}

ContainerdInstance::~ContainerdInstance() {
  if (process_ && !process_->exitStatus()) (void)process_->signal(SIGKILL);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

StatusOr<std::unique_ptr<runtime::Process>> ContainerdInstance::ctr(const std::vector<std::string>& args,
                                                                   bool pipeStdout) {
  runtime::ProcessSpec spec{.path = "/usr/bin/ctr", .args = {"ctr", "--address", grpcAddress()}};
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  spec.stdoutMode = pipeStdout ? runtime::StdioMode::kPipe : runtime::StdioMode::kInherit;
  return rt_.processes().spawn(spec);
}

Task<std::pair<int, std::string>> ContainerdInstance::ctrOutput(std::vector<std::string> args, std::string input) {
  runtime::ProcessSpec spec{.path = "/usr/bin/ctr", .args = {"ctr", "--address", grpcAddress()}};
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  spec.stdinMode = input.empty() ? runtime::StdioMode::kNull : runtime::StdioMode::kPipe;
  spec.stdoutMode = runtime::StdioMode::kPipe;
  spec.stderrMode = runtime::StdioMode::kPipe;
  auto p = rt_.processes().spawn(spec);
  if (!p.ok()) co_return std::make_pair(-1, p.status().toString());
  if (!input.empty()) {
    (void)co_await (*p)->stdinStream()->write(input);
  }
  std::string err;
  bool errDone = false;
  runtime::spawn([](runtime::Stream* s, std::string& out, bool& done) -> Task<void> {
    auto all = co_await runtime::readToEnd(*s);
    if (all.ok()) out = *all;
    done = true;
  }((*p)->stderrStream(), err, errDone));
  auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
  int code = (co_await (*p)->wait()).exitCode;
  while (!errDone) co_await runtime::sleep(rt_.loop(), std::chrono::milliseconds(1));
  co_return std::make_pair(code, (out.ok() ? *out : "") + err);
}

Task<Status> ContainerdInstance::stop() {
  if (!process_) co_return OkStatus();
  if (!process_->exitStatus()) {
    (void)process_->signal(SIGTERM);
    bool exited = false;
    runtime::TimerId t = rt_.loop().addTimer(std::chrono::seconds(10), [this, &exited] {
      if (!exited && process_ && !process_->exitStatus()) (void)process_->signal(SIGKILL);
    });
    (void)co_await process_->wait();
    exited = true;
    rt_.loop().cancelTimer(t);
  }
  HLOG(Info, "containerd.stopped").kv("dir", dir_).kv("exit_code", process_->exitStatus()->exitCode);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (ec) co_return InternalError("remove " + dir_ + ": " + ec.message());
  dir_.clear();
  co_return OkStatus();
}

}  // namespace hcsshim::functional
