// shimdiag: looks inside running containerd-shim-runhcs-v1 processes.
//
//   shimdiag [--state DIR] list                       shims containerd knows (ns/id, address, tasks)
//   shimdiag [--state DIR] tasks  NS/ID|unix://ADDR   the shim's tasks and their utility VMs
//   shimdiag [--state DIR] exec   NS/ID|unix://ADDR [--task ID] -- CMD [ARGS...]
//                                                     run CMD in the task's utility VM
//   shimdiag [--state DIR] stacks NS/ID|unix://ADDR   the shim's state and its guests' DumpStacks
//
// --state is containerd's state directory (default /run/containerd); a shim
// is found through <state>/io.containerd.runtime.v2.task/<ns>/<id>/address.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "src/common/flags.h"
#include "src/runtime/read_file.h"
#include "src/common/log.h"
#include "src/runtime/real_runtime.h"
#include "src/shim/shimdiag.pb.h"
#include "src/ttrpc/client.h"

namespace {

using namespace hcsshim;
namespace fs = std::filesystem;
namespace diag = hcsshim::shimdiag::v1;
using runtime::Task;

constexpr const char* kService = "hcsshim.shimdiag.v1.ShimDiag";

int usage() {
  std::fprintf(stderr,
               "usage: shimdiag [--state DIR] list\n"
               "       shimdiag [--state DIR] tasks|stacks NS/ID|unix://ADDR\n"
               "       shimdiag [--state DIR] exec NS/ID|unix://ADDR [--task ID] -- CMD [ARGS...]\n");
  return 2;
}

std::string addressOf(const std::string& state, const std::string& target) {
  if (target.rfind("unix://", 0) == 0) return target;
  std::string a = runtime::readFile(std::string(state + "/io.containerd.runtime.v2.task/" + target + "/address")).value_or("");
  return a;
}

template <typename Req, typename Resp>
StatusOr<Resp> call(runtime::RealRuntime& rt, const std::string& address, const char* method, const Req& req) {
  return runtime::blockOn(rt.loop(), [](runtime::RealRuntime& rt, std::string address, std::string method,
                                        Req req) -> Task<StatusOr<Resp>> {
    auto c = co_await ttrpc::Client::connect(rt, address);
    if (!c.ok()) co_return c.status();
    ttrpc::CallOptions opts;
    opts.timeout = std::chrono::seconds(30);
    auto r = co_await (*c)->call(kService, method, req.SerializeAsString(), opts);
    (*c)->close();
    if (!r.ok()) co_return r.status();
    Resp resp;
    if (!resp.ParseFromString(*r)) co_return InternalError("undecodable " + method + " response");
    co_return resp;
  }(rt, address, method, req));
}

}  // namespace

int main(int argc, char** argv) {
  std::string state = "/run/containerd";
  FlagSet flags("shimdiag");
  flags.string("state", &state, "containerd's state directory");
  auto parsed = flags.parse(argc, argv, {.stopAtPositional = true});
  if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().message().c_str());
  if (!parsed.ok() || parsed->empty()) return usage();
  std::vector<std::string> args = *parsed;
  log::setLevel(LogLevel::kWarn);
  auto rt = runtime::RealRuntime::create("shimdiag");
  if (!rt.ok()) return 1;
  const std::string cmd = args[0];
  if (cmd == "list") {
    std::printf("%-30s %-60s %s\n", "NAMESPACE/ID", "ADDRESS", "TASKS");
    std::error_code ec;
    for (const auto& ns : fs::directory_iterator(state + "/io.containerd.runtime.v2.task", ec)) {
      for (const auto& t : fs::directory_iterator(ns.path(), ec)) {
        std::string target = ns.path().filename().string() + "/" + t.path().filename().string();
        std::string address = addressOf(state, target);
        if (address.empty()) continue;
        auto tasks = call<diag::TasksRequest, diag::TasksResponse>(**rt, address, "Tasks", diag::TasksRequest());
        std::string list;
        if (tasks.ok()) {
          for (const auto& info : tasks->tasks()) list += (list.empty() ? "" : ",") + info.id();
        } else {
          list = "(" + std::string(tasks.status().code() == Code::kUnimplemented ? "not a runhcs shim" : "unreachable") + ")";
        }
        std::printf("%-30s %-60s %s\n", target.c_str(), address.c_str(), list.c_str());
      }
    }
    return 0;
  }
  if (args.size() < 2) return usage();
  std::string address = addressOf(state, args[1]);
  if (address.empty()) {
    std::fprintf(stderr, "shimdiag: no shim address for %s under %s\n", args[1].c_str(), state.c_str());
    return 1;
  }
  if (cmd == "tasks") {
    auto r = call<diag::TasksRequest, diag::TasksResponse>(**rt, address, "Tasks", diag::TasksRequest());
    if (!r.ok()) {
      std::fprintf(stderr, "shimdiag: %s\n", r.status().toString().c_str());
      return 1;
    }
    std::printf("%-24s %-32s %-8s %-8s %s\n", "TASK", "UTILITY VM", "PID", "STATUS", "EXECS");
    for (const auto& t : r->tasks()) {
      std::string execs;
      for (const auto& e : t.execs()) execs += (execs.empty() ? "" : ",") + e;
      std::printf("%-24s %-32s %-8u %-8s %s\n", t.id().c_str(), t.vm_id().c_str(), t.pid(), t.status().c_str(),
                  execs.c_str());
    }
    return 0;
  }
  if (cmd == "stacks") {
    auto r = call<diag::StacksRequest, diag::StacksResponse>(**rt, address, "Stacks", diag::StacksRequest());
    if (!r.ok()) {
      std::fprintf(stderr, "shimdiag: %s\n", r.status().toString().c_str());
      return 1;
    }
    std::printf("%s%s", r->shim().c_str(), r->guests().c_str());
    return 0;
  }
  if (cmd == "exec") {
    diag::ExecInUVMRequest req;
    size_t i = 2;
    if (i + 1 < args.size() && args[i] == "--task") {
      req.set_task_id(args[i + 1]);
      i += 2;
    }
    if (i < args.size() && args[i] == "--") ++i;
    if (i >= args.size()) return usage();
    for (; i < args.size(); ++i) req.add_args(args[i]);
    auto r = call<diag::ExecInUVMRequest, diag::ExecInUVMResponse>(**rt, address, "ExecInUVM", req);
    if (!r.ok()) {
      std::fprintf(stderr, "shimdiag: %s\n", r.status().toString().c_str());
      return 1;
    }
    std::fwrite(r->stdout().data(), 1, r->stdout().size(), stdout);
    std::fwrite(r->stderr().data(), 1, r->stderr().size(), stderr);
    return r->exit_code();
  }
  return usage();
}
