#include "hcs_fake/testing/in_process_guest.h"

#include <filesystem>

#include "gcs/agent.h"
#include "gcs/testing/fake_network.h"
#include "gcs/testing/fake_runtime.h"
#include "hcs_fake/sim_backend.h"
#include "src/common/log.h"

namespace hcsshim::hcs_fake {

namespace fs = std::filesystem;
using runtime::Task;
namespace hr = hresult;

namespace {

class PrefixVsockHost final : public bridge::VsockHost {
 public:
  PrefixVsockHost(runtime::Transport& t, std::string prefix) : t_(t), prefix_(std::move(prefix)) {}
  StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t port) override {
    return t_.listen(prefix_ + std::to_string(port));
  }

 private:
  runtime::Transport& t_;
  std::string prefix_;
};

}  // namespace

struct InProcessGuestBackend::Guest {
  std::string dir;
  std::unique_ptr<gcs::PrefixDialer> dialer;
  std::unique_ptr<gcs::FakeContainerRuntime> containers;
  std::unique_ptr<gcs::FakeMounter> mounter;
  std::unique_ptr<gcs::FakeNetworkManager> network;
  std::map<std::string, std::string> nics;  // endpoint id -> MAC, as HCS plugged them
  std::unique_ptr<gcs::Agent> agent;
  bool stopping = false;
  bool finished = false;
  runtime::WaitList finishedChanged;
};

InProcessGuestBackend::InProcessGuestBackend(runtime::Runtime& rt, std::string dir) : rt_(rt), dir_(std::move(dir)) {}

InProcessGuestBackend::~InProcessGuestBackend() {
  for (auto& [id, g] : guests_) {
    g->stopping = true;
    g->agent->stop();
  }
}

std::string InProcessGuestBackend::socketPrefix(const std::string& id) {
  auto it = prefixes_.find(id);
  if (it != prefixes_.end()) return it->second;
  std::string prefix = "unix://" + dir_ + "/v" + std::to_string(prefixes_.size()) + "_";
  prefixes_[id] = prefix;
  return prefix;
}

std::unique_ptr<bridge::VsockHost> InProcessGuestBackend::vsockFor(const std::string& id) {
  return std::make_unique<PrefixVsockHost>(rt_.transport(), socketPrefix(id));
}

Task<Status> InProcessGuestBackend::start(const std::string& id, const schema::VirtualMachine&) {
  if (guests_.count(id)) co_return Status::fromHResult(hr::kHcsInvalidState, "Start", id, "the guest already runs");
  auto g = std::make_shared<Guest>();
  g->dir = dir_ + "/vm-" + std::to_string(guests_.size()) + "-" + std::to_string(prefixes_.size());
  std::error_code ec;
  fs::create_directories(g->dir + "/state", ec);
  fs::create_directories(g->dir + "/shares", ec);
  fs::create_directories(g->dir + "/fs/run", ec);
  fs::create_directories(g->dir + "/fs/tmp", ec);
  g->dialer = std::make_unique<gcs::PrefixDialer>(rt_.transport(), socketPrefix(id));
  g->containers = std::make_unique<gcs::FakeContainerRuntime>(rt_, "unix://" + g->dir + "/stdio-");
  g->mounter = std::make_unique<gcs::FakeMounter>();
  g->network = std::make_unique<gcs::FakeNetworkManager>(g->dir + "/state");
  g->agent = std::make_unique<gcs::Agent>(rt_, *g->dialer, *g->containers, *g->mounter,
                                          gcs::AgentOptions{.stateDir = g->dir + "/state",
                                                            .mountRoots = {"/run", "/tmp"},
                                                            .plan9Root = g->dir + "/shares",
                                                            .scsiRoot = g->dir + "/scsi",
                                                            .pmemRoot = g->dir + "/pmem",
                                                            .cgroupRoot = g->dir + "/cgroup",
                                                            .redialInterval = std::chrono::milliseconds(5),
                                                            .exitOnBridgeEof = true,  // hcsshim's guest
                                                            .fsRoot = g->dir + "/fs"},
                                          g->network.get());
  guests_[id] = g;
  runtime::Duration boot = bootDelay_ ? bootDelay_() : runtime::Duration(0);
  runtime::spawn([](InProcessGuestBackend* self, std::string id, std::shared_ptr<Guest> g,
                    runtime::Duration boot) -> Task<void> {
    if (boot.count() > 0) co_await runtime::sleep(self->rt_.loop(), boot);
    co_await g->agent->run();
    g->containers->killAll();  // a VM's processes end with it
    g->finished = true;
    g->finishedChanged.notifyAll();
    auto it = self->guests_.find(id);
    if (it != self->guests_.end() && it->second == g) self->guests_.erase(it);
    // A real guest's work dies with its VM; here the agent's requests still
    // in flight (an exec awaiting its stdio, say) resume later and reach the
    // container runtime: it lives as long as the backend.
    self->retired_.push_back(g);
    // Not asked to stop: the guest powered itself off (the host shut it down
    // over the bridge) or it crashed.
    bool unexpected = !g->stopping && !g->agent->shutdownRequested();
    if (unexpected) self->unexpectedExits_.push_back(id);
    if (!g->stopping && self->onExit_) self->onExit_(id, unexpected ? hr::kHcsUnexpectedExit : hr::kOk);
  }(this, id, g, boot));
  HLOG(Info, "hcs_fake.inprocess.vm_started").kv("id", id).kv("dir", g->dir);
  co_return OkStatus();
}

Task<Status> InProcessGuestBackend::stop(const std::string& id, bool graceful) {
  auto it = guests_.find(id);
  if (it == guests_.end()) co_return OkStatus();
  std::shared_ptr<Guest> g = it->second;
  g->stopping = true;
  g->containers->setFrozen(false);  // a paused guest must run to stop
  // The hcsshim order check: a graceful shutdown reaches a guest whose bridge is still up.
  if (graceful) bridgeUpAtShutdown_[id] = g->agent->bridgeConnected() && !g->finished;
  g->agent->stop();
  while (!g->finished) co_await g->finishedChanged.wait();
  co_return OkStatus();
}

Task<Status> InProcessGuestBackend::pause(const std::string& id) {
  auto it = guests_.find(id);
  if (it == guests_.end()) co_return Status::fromHResult(hr::kHcsInvalidState, "Pause", id, "no guest");
  it->second->containers->setFrozen(true);
  co_return OkStatus();
}

Task<Status> InProcessGuestBackend::resume(const std::string& id) {
  auto it = guests_.find(id);
  if (it == guests_.end()) co_return Status::fromHResult(hr::kHcsInvalidState, "Resume", id, "no guest");
  it->second->containers->setFrozen(false);
  co_return OkStatus();
}

Task<Status> InProcessGuestBackend::modify(const std::string& id, const schema::ModifySettingRequest& request) {
  auto it = guests_.find(id);
  if (it == guests_.end()) co_return OkStatus();
  auto linked = linkGuestDevice(it->second->dir, id, request);
  if (!linked.ok()) co_return linked.status();
  // A NIC appears in (or goes from) the guest with its MAC.
  constexpr std::string_view kNics = "VirtualMachine/Devices/NetworkAdapters/";
  Guest& g = *it->second;
  std::string path = request.resourcePath.value_or("");
  if (path.starts_with(kNics)) {
    std::string endpoint = path.substr(kNics.size());
    if (request.requestType == "Add" && request.settings.is_object() && request.settings.contains("MacAddress") &&
        request.settings["MacAddress"].is_string()) {
      g.nics[endpoint] = request.settings["MacAddress"].get<std::string>();
      g.network->plug(g.nics[endpoint]);
    } else if (request.requestType == "Remove" && g.nics.count(endpoint)) {
      g.network->unplug(g.nics[endpoint]);
      g.nics.erase(endpoint);
    }
  }
  co_return OkStatus();
}

Task<StatusOr<hcs::CreatedProcess>> InProcessGuestBackend::createProcess(const std::string& id,
                                                                        const schema::ProcessParameters&) {
  co_return Status::fromHResult(hr::kNotImpl, "CreateProcess", id, "the in-process guest runs processes over the bridge only");
}

Task<Status> InProcessGuestBackend::signalProcess(const std::string& id, uint32_t pid, int) {
  co_return Status::fromHResult(hr::kElementNotFound, "SignalProcess", id + "/" + std::to_string(pid), "no such process");
}

void InProcessGuestBackend::crash(const std::string& id) {
  auto it = guests_.find(id);
  if (it == guests_.end()) return;
  it->second->agent->stop();  // not `stopping`: reported as unexpected
}

size_t InProcessGuestBackend::running() const { return guests_.size(); }

std::vector<std::string> InProcessGuestBackend::runningIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, g] : guests_) ids.push_back(id);
  return ids;
}

std::optional<std::pair<std::string, uint32_t>> InProcessGuestBackend::vmOfAddress(std::string_view address) const {
  for (const auto& [id, prefix] : prefixes_) {
    std::string_view p = prefix;
    if (p.starts_with("unix://")) p.remove_prefix(7);
    if (!address.starts_with(p)) continue;
    std::string_view port = address.substr(p.size());
    uint64_t n = 0;
    if (port.empty() || port.size() > 10) return std::nullopt;
    for (char ch : port) {
      if (ch < '0' || ch > '9') return std::nullopt;
      n = n * 10 + static_cast<uint64_t>(ch - '0');
    }
    if (n > UINT32_MAX) return std::nullopt;
    return std::make_pair(id, static_cast<uint32_t>(n));
  }
  return std::nullopt;
}

std::vector<std::string> InProcessGuestBackend::gracefulStopsWithBridgeDown() const {
  std::vector<std::string> ids;
  for (const auto& [id, up] : bridgeUpAtShutdown_) {
    if (!up) ids.push_back(id);
  }
  return ids;
}

bool InProcessGuestBackend::bridgeUpAtShutdown(const std::string& id) const {
  auto it = bridgeUpAtShutdown_.find(id);
  return it != bridgeUpAtShutdown_.end() && it->second;
}

}  // namespace hcsshim::hcs_fake
