#include "src/shim/lifecycle.h"

#include <cstdio>

#include "src/common/flags.h"
#include "src/common/json.h"
#include "src/common/log.h"
#include "src/runtime/read_file.h"
#include "src/runtime/wait_for.h"
#include "src/shim/task_service.h"
#include "src/ttrpc/server.h"

namespace hcsshim::shim {

using runtime::Task;

std::variant<ShimArgs, int> parseShimArgs(int argc, char** argv) {
  ShimArgs a;
  bool version = false;
  FlagSet flags("containerd-shim-runhcs-v1");
  flags.string("namespace", &a.ns, "containerd namespace");
  flags.string("address", &a.address, "containerd's grpc address");
  flags.string("publish-binary", &a.publishBinary, "containerd's binary for publishing events");
  flags.string("id", &a.id, "the task id");
  flags.string("bundle", &a.bundle, "the task's bundle directory");
  flags.string("socket", &a.socket, "(serve) the task socket");
  flags.boolean("debug", &a.debug, "log debug events");
  flags.boolean("v", &version, "print the version");
  flags.boolean("version", &version, "print the version");
  auto rest = flags.parse(argc, argv);
  if (version) {
    std::printf("containerd-shim-runhcs-v1 (hcsshim-cpp)\n");
    return 0;
  }
  a.verb = rest.ok() && rest->size() == 1 ? rest->front() : "";
  if (a.verb != "start" && a.verb != "delete" && !(a.verb == "serve" && !a.socket.empty())) {
    std::string why = !rest.ok() ? rest.status().message() + "\n"
                      : a.verb.empty() || a.verb == "serve" ? ""
                                                            : "unknown verb " + a.verb + " (want start, delete or serve)\n";
    std::fprintf(stderr, "%susage: containerd-shim-runhcs-v1 [flags] start|delete|serve\n%s", why.c_str(),
                 flags.usage().c_str());
    return 2;
  }
  return a;
}

std::string shimGroup(const std::string& bundle, const std::string& id) {
  auto spec = parseJson(runtime::readFile(bundle + "/config.json", 16 << 20).value_or(""));
  if (!spec.ok() || !spec->is_object()) return id;
  auto a = spec->value("annotations", Json::object());
  auto sandbox = a.is_object() ? a.find("io.kubernetes.cri.sandbox-id") : a.end();
  if (sandbox != a.end() && sandbox->is_string() && !sandbox->get<std::string>().empty()) {
    return sandbox->get<std::string>();
  }
  return id;
}

runtime::ProcessSpec serverSpec(const ShimArgs& a, const std::string& executable, const std::string& bundle,
                                const std::string& address) {
  runtime::ProcessSpec spec{.path = executable,
                            .args = {executable, "-namespace", a.ns, "-address", a.address, "-publish-binary",
                                     a.publishBinary, "-id", a.id, "-bundle", bundle, "-socket", address}};
  if (a.debug) spec.args.push_back("-debug");
  spec.args.push_back("serve");
  spec.killOnParentDeath = false;
  spec.stdinMode = runtime::StdioMode::kNull;
  spec.stdoutMode = runtime::StdioMode::kNull;
  spec.stderrMode = runtime::StdioMode::kNull;
  spec.cwd = bundle;
  return spec;
}

Status ensureServer(runtime::Runtime& rt, const std::string& address, const runtime::ProcessSpec& server,
                    const std::function<Status()>& beforeSpawn, runtime::Duration timeout) {
  auto probe = runtime::blockOn(rt.loop(), rt.transport().connect(address));
  if (probe.ok()) {
    (*probe)->close();
    return OkStatus();
  }
  HCS_RETURN_IF_ERROR(beforeSpawn());
  HCS_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Process> p, rt.processes().spawn(server));
  runtime::Process& proc = *p;
  bool up = runtime::blockOn(rt.loop(), runtime::waitForAsync(
                                            rt.loop(),
                                            [&]() -> Task<bool> {
                                              if (proc.exitStatus()) co_return true;
                                              auto c = co_await rt.transport().connect(address);
                                              if (c.ok()) (*c)->close();
                                              co_return c.ok();
                                            },
                                            timeout, std::chrono::milliseconds(1)));
  if (proc.exitStatus()) {
    return UnavailableError("the shim server exited before it served " + address + " (see containerd's log)");
  }
  if (!up) return UnavailableError("the shim server did not serve " + address + " in time");
  return OkStatus();
}

void serveTasks(runtime::Runtime& rt, TaskModel& model, Publisher& events,
                std::unique_ptr<runtime::Listener> listener, bool& stop) {
  ttrpc::Server server(rt, ttrpc::ServerOptions{.requireSameUser = true});
  registerTaskService(model, server);
  registerDiagService(model, server);
  bool served = false;
  runtime::spawn([](ttrpc::Server& s, std::unique_ptr<runtime::Listener> l, bool& done) -> Task<void> {
    (void)co_await s.serve(std::move(l));
    done = true;
  }(server, std::move(listener), served));
  runtime::spawn([](TaskModel& m, bool& stop) -> Task<void> {
    co_await m.waitDone();
    stop = true;
  }(model, stop));
  rt.loop().runUntil([&] { return stop; });
  model.finish();  // whichever way we stop, the other waiter ends too
  runtime::blockOn(rt.loop(), model.closeAll());
  runtime::blockOn(rt.loop(), events.flushed());
  // Answers already given (Shutdown's among them) reach their callers.
  runtime::blockOn(rt.loop(), server.drainThenShutdown(std::chrono::seconds(2)));
  rt.loop().runUntil([&] { return served; });
}

}  // namespace hcsshim::shim
