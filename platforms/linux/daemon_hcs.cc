#include "platforms/linux/daemon_hcs.h"

#include <unistd.h>

#include <cstdlib>

#include "hcs_fake/api/hcs_fake.pb.h"
#include "src/common/log.h"

namespace hcsshim::platforms {

using runtime::Task;
namespace pb = ::hcsshim::hcsfake::v1;

namespace {
constexpr char kService[] = "hcsshim.hcsfake.v1.Hcs";
}

std::string defaultHcsAddress() {
  const char* env = std::getenv("HCS_FAKE_ADDRESS");
  if (env && *env) return env;
  return "unix:///tmp/hcs-fake-" + std::to_string(getuid()) + "/hcs.sock";
}

std::string vsockRootFor(const std::string& address) {
  const char* env = std::getenv("HCS_FAKE_VSOCK_ROOT");
  if (env && *env) return env;
  auto path = runtime::unixSocketPath(address);
  std::string p = path.ok() ? *path : address;
  auto slash = p.rfind('/');
  return (slash == std::string::npos ? std::string(".") : p.substr(0, slash)) + "/vsock";
}

struct DaemonHcs::State {
  runtime::Runtime& rt;
  std::string address;
  std::unique_ptr<ttrpc::Client> client;
  std::map<uint64_t, hcs::EventCallback> callbacks;
  bool disconnected = false;

  template <typename Resp, typename Req>
  Task<StatusOr<Resp>> call(const char* method, Req req) {
    if (disconnected) co_return Status::fromHResult(hresult::kHcsConnectionClosed, method, address, "not connected to the HCS service");
    auto r = co_await client->call<Req, Resp>(kService, method, std::move(req));
    if (!r.ok() && r.status().code() == Code::kUnavailable && r.status().hresult() == hresultFromCode(Code::kUnavailable)) {
      co_return Status::fromHResult(hresult::kHcsConnectionClosed, method, address, r.status().message());
    }
    co_return r;
  }
};

namespace {

Task<void> eventLoop(std::shared_ptr<DaemonHcs::State> s) {
  while (!s->disconnected) {
    auto r = co_await s->client->call<pb::WaitEventsRequest, pb::WaitEventsResponse>(kService, "WaitEvents",
                                                                                      pb::WaitEventsRequest());
    if (!r.ok()) {
      if (s->disconnected) break;
      HLOG(Warn, "hcs.daemon.disconnected").kv("address", s->address).kv("err", r.status());
      s->disconnected = true;
      auto callbacks = s->callbacks;
      for (auto& [h, cb] : callbacks) {
        if (cb) cb(hcs::Event{hcs::EventType::kServiceDisconnect, "{}"});
      }
      break;
    }
    for (const auto& e : r->events()) {
      auto it = s->callbacks.find(e.handle());
      if (it == s->callbacks.end() || !it->second) continue;
      auto cb = it->second;
      cb(hcs::Event{static_cast<hcs::EventType>(e.type()), e.event_data()});
    }
  }
}

}  // namespace

Task<StatusOr<std::unique_ptr<DaemonHcs>>> DaemonHcs::connect(runtime::Runtime& rt, std::string address) {
  auto client = co_await ttrpc::Client::connect(rt, address);
  if (!client.ok()) {
    co_return Status::fromHResult(hresult::kHcsServiceNotAvailable, "connect", address,
                                  "the HCS service is not available: " + client.status().message());
  }
  auto s = std::make_shared<State>(State{rt, address, std::move(*client), {}, false});
  runtime::spawn(eventLoop(s));
  co_return std::unique_ptr<DaemonHcs>(new DaemonHcs(s));
}

DaemonHcs::~DaemonHcs() { disconnect(); }

void DaemonHcs::disconnect() {
  if (s_->disconnected) return;
  s_->disconnected = true;
  s_->client->close();
}

Task<StatusOr<std::string>> DaemonHcs::enumerateComputeSystems(std::string query) {
  pb::EnumerateRequest req;
  req.set_query(query);
  auto s = s_;
  HCS_CO_ASSIGN_OR_RETURN(auto resp, co_await s->call<pb::DocumentResponse>("Enumerate", req));
  co_return resp.document();
}

Task<StatusOr<hcs::SystemHandle>> DaemonHcs::createComputeSystem(std::string id, std::string configuration) {
  pb::CreateRequest req;
  req.set_id(id);
  req.set_configuration(configuration);
  auto s = s_;
  HCS_CO_ASSIGN_OR_RETURN(auto resp, co_await s->call<pb::HandleResponse>("CreateComputeSystem", req));
  co_return resp.handle();
}

Task<StatusOr<hcs::SystemHandle>> DaemonHcs::openComputeSystem(std::string id) {
  pb::OpenRequest req;
  req.set_id(id);
  auto s = s_;
  HCS_CO_ASSIGN_OR_RETURN(auto resp, co_await s->call<pb::HandleResponse>("OpenComputeSystem", req));
  co_return resp.handle();
}

#define HCS_DAEMON_SYSTEM_OP(method, rpc)                                            \
  Task<Status> DaemonHcs::method(hcs::SystemHandle system, std::string options) {    \
    pb::SystemRequest req;                                                           \
    req.set_handle(system);                                                          \
    req.set_options(options);                                                        \
    auto s = s_;                                                                     \
    co_return (co_await s->call<pb::Empty>(rpc, req)).status();                      \
  }

HCS_DAEMON_SYSTEM_OP(startComputeSystem, "StartComputeSystem")
HCS_DAEMON_SYSTEM_OP(shutDownComputeSystem, "ShutDownComputeSystem")
HCS_DAEMON_SYSTEM_OP(terminateComputeSystem, "TerminateComputeSystem")
HCS_DAEMON_SYSTEM_OP(pauseComputeSystem, "PauseComputeSystem")
HCS_DAEMON_SYSTEM_OP(resumeComputeSystem, "ResumeComputeSystem")
HCS_DAEMON_SYSTEM_OP(saveComputeSystem, "SaveComputeSystem")
HCS_DAEMON_SYSTEM_OP(modifyComputeSystem, "ModifyComputeSystem")
#undef HCS_DAEMON_SYSTEM_OP

Task<StatusOr<std::string>> DaemonHcs::getComputeSystemProperties(hcs::SystemHandle system, std::string query) {
  pb::SystemRequest req;
  req.set_handle(system);
  req.set_options(query);
  auto s = s_;
  HCS_CO_ASSIGN_OR_RETURN(auto resp, co_await s->call<pb::DocumentResponse>("GetComputeSystemProperties", req));
  co_return resp.document();
}

Status DaemonHcs::setComputeSystemCallback(hcs::SystemHandle system, hcs::EventCallback callback) {
  s_->callbacks[system] = std::move(callback);
  return OkStatus();
}

void DaemonHcs::closeComputeSystem(hcs::SystemHandle system) {
  s_->callbacks.erase(system);
  if (s_->disconnected) return;
  pb::CloseRequest req;
  req.set_handle(system);
  // Fire and forget, like CloseHandle: ordering on the connection keeps it
  // before any later call.
  runtime::spawn([](std::shared_ptr<State> s, pb::CloseRequest req) -> Task<void> {
    (void)co_await s->call<pb::Empty>("CloseComputeSystem", req);
  }(s_, req));
}

Task<StatusOr<hcs::CreatedProcess>> DaemonHcs::createProcess(hcs::SystemHandle system, std::string parameters) {
  pb::CreateProcessRequest req;
  req.set_handle(system);
  req.set_parameters(parameters);
  auto s = s_;
  HCS_CO_ASSIGN_OR_RETURN(auto resp, co_await s->call<pb::CreateProcessResponse>("CreateProcess", req));
  hcs::CreatedProcess out;
  out.handle = resp.handle();
  out.pid = resp.pid();
  const std::string* paths[3] = {&resp.stdin_socket(), &resp.stdout_socket(), &resp.stderr_socket()};
  std::unique_ptr<runtime::Stream>* ends[3] = {&out.stdinStream, &out.stdoutStream, &out.stderrStream};
  for (int i = 0; i < 3; ++i) {
    if (paths[i]->empty()) continue;
    auto st = co_await s->rt.transport().connect(*paths[i]);
    if (!st.ok()) co_return st.status().withContext("CreateProcess", "stdio relay " + *paths[i]);
    *ends[i] = std::move(*st);
  }
  co_return out;
}

Task<StatusOr<hcs::ProcessHandle>> DaemonHcs::openProcess(hcs::SystemHandle system, uint32_t pid) {
  pb::OpenProcessRequest req;
  req.set_handle(system);
  req.set_pid(pid);
  auto s = s_;
  HCS_CO_ASSIGN_OR_RETURN(auto resp, co_await s->call<pb::HandleResponse>("OpenProcess", req));
  co_return resp.handle();
}

#define HCS_DAEMON_PROCESS_OP(method, rpc)                                            \
  Task<Status> DaemonHcs::method(hcs::ProcessHandle process, std::string options) {   \
    pb::ProcessRequest req;                                                           \
    req.set_handle(process);                                                          \
    req.set_options(options);                                                         \
    auto s = s_;                                                                      \
    co_return (co_await s->call<pb::Empty>(rpc, req)).status();                       \
  }

HCS_DAEMON_PROCESS_OP(signalProcess, "SignalProcess")
HCS_DAEMON_PROCESS_OP(modifyProcess, "ModifyProcess")
#undef HCS_DAEMON_PROCESS_OP

Task<Status> DaemonHcs::terminateProcess(hcs::ProcessHandle process) {
  pb::ProcessRequest req;
  req.set_handle(process);
  auto s = s_;
  co_return (co_await s->call<pb::Empty>("TerminateProcess", req)).status();
}

Task<StatusOr<std::string>> DaemonHcs::getProcessProperties(hcs::ProcessHandle process) {
  pb::ProcessRequest req;
  req.set_handle(process);
  auto s = s_;
  HCS_CO_ASSIGN_OR_RETURN(auto resp, co_await s->call<pb::DocumentResponse>("GetProcessProperties", req));
  co_return resp.document();
}

Status DaemonHcs::setProcessCallback(hcs::ProcessHandle process, hcs::EventCallback callback) {
  s_->callbacks[process] = std::move(callback);
  return OkStatus();
}

void DaemonHcs::closeProcess(hcs::ProcessHandle process) {
  s_->callbacks.erase(process);
  if (s_->disconnected) return;
  pb::CloseRequest req;
  req.set_handle(process);
  runtime::spawn([](std::shared_ptr<State> s, pb::CloseRequest req) -> Task<void> {
    (void)co_await s->call<pb::Empty>("CloseProcess", req);
  }(s_, req));
}

}  // namespace hcsshim::platforms
