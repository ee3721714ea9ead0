#include "sim/campaign/shim_process.h"

#include "src/common/log.h"

namespace hcsshim::sim::campaign {

using runtime::Task;

uint64_t Gate::onKill(std::function<void()> fn) {
  uint64_t id = next_++;
  hooks_[id] = std::move(fn);
  return id;
}

void Gate::kill() {
  if (!alive_) return;
  alive_ = false;
  // One at a time: a hook's effects run the dead code, which may destroy
  // (and so forget) objects whose hooks have not run yet.
  while (!hooks_.empty()) {
    auto first = hooks_.begin();
    std::function<void()> fn = std::move(first->second);
    hooks_.erase(first);
    fn();
  }
}

Status deadProcessError(const std::string& what) {
  return Status::fromHResult(hresult::kAbort, what, "", "the calling process is dead");
}

// ------------------------------------------------------------------ streams

namespace {

class GatedStream final : public runtime::Stream {
 public:
  GatedStream(std::unique_ptr<runtime::Stream> inner, std::shared_ptr<Gate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {
    runtime::Stream* s = inner_.get();
    hook_ = gate_->onKill([s] { s->close(); });  // the peer reads EOF, as from a dead process
  }
  ~GatedStream() override { gate_->forget(hook_); }
  Task<StatusOr<size_t>> read(std::span<char> buf) override {
    if (!gate_->alive()) co_return deadProcessError("read");
    co_return co_await inner_->read(buf);
  }
  Task<Status> write(std::string_view data) override {
    if (!gate_->alive()) co_return deadProcessError("write");
    co_return co_await inner_->write(data);
  }
  Status shutdownWrite() override { return gate_->alive() ? inner_->shutdownWrite() : deadProcessError("shutdown"); }
  void close() override { inner_->close(); }
  StatusOr<runtime::PeerCredentials> peerCredentials() const override { return inner_->peerCredentials(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::unique_ptr<runtime::Stream> inner_;
  std::shared_ptr<Gate> gate_;
  uint64_t hook_ = 0;
};

class GatedListener final : public runtime::Listener {
 public:
  GatedListener(std::unique_ptr<runtime::Listener> inner, std::shared_ptr<Gate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {
    runtime::Listener* l = inner_.get();
    hook_ = gate_->onKill([l] { l->close(); });
  }
  ~GatedListener() override { gate_->forget(hook_); }
  Task<StatusOr<std::unique_ptr<runtime::Stream>>> accept() override {
    if (!gate_->alive()) co_return deadProcessError("accept");
    auto s = co_await inner_->accept();
    if (!s.ok()) co_return s.status();
    if (!gate_->alive()) {
      (*s)->close();
      co_return deadProcessError("accept");
    }
    co_return gateStream(std::move(*s), gate_);
  }
  void close() override { inner_->close(); }
  std::string address() const override { return inner_->address(); }

 private:
  std::unique_ptr<runtime::Listener> inner_;
  std::shared_ptr<Gate> gate_;
  uint64_t hook_ = 0;
};

class GatedVsock final : public bridge::VsockHost {
 public:
  GatedVsock(std::unique_ptr<bridge::VsockHost> inner, std::shared_ptr<Gate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {}
  StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t port) override {
    if (!gate_->alive()) return deadProcessError("listen");
    auto l = inner_->listen(port);
    if (!l.ok()) return l.status();
    return std::unique_ptr<runtime::Listener>(new GatedListener(std::move(*l), gate_));
  }

 private:
  std::unique_ptr<bridge::VsockHost> inner_;
  std::shared_ptr<Gate> gate_;
};

}  // namespace

std::unique_ptr<runtime::Stream> gateStream(std::unique_ptr<runtime::Stream> s, std::shared_ptr<Gate> gate) {
  if (!s) return s;
  return std::make_unique<GatedStream>(std::move(s), std::move(gate));
}

// ----------------------------------------------------------------- platform

std::unique_ptr<bridge::VsockHost> GatedPlatform::vsockFor(const std::string& vmId) {
  return std::make_unique<GatedVsock>(inner_.vsockFor(vmId), gate_);
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> GatedPlatform::openOutput(std::string uri) {
  if (!gate_->alive()) co_return deadProcessError("open " + uri);
  auto s = co_await inner_.stdio().openOutput(uri);
  if (!s.ok()) co_return s.status();
  co_return gateStream(std::move(*s), gate_);
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> GatedPlatform::openInput(std::string uri) {
  if (!gate_->alive()) co_return deadProcessError("open " + uri);
  auto s = co_await inner_.stdio().openInput(uri);
  if (!s.ok()) co_return s.status();
  co_return gateStream(std::move(*s), gate_);
}

Task<StatusOr<shim::LoggerStreams>> GatedPlatform::startBinaryLogger(shim::BinaryLoggerOptions options) {
  if (!gate_->alive()) co_return deadProcessError("logger " + options.uri);
  auto l = co_await inner_.stdio().startBinaryLogger(options);
  if (!l.ok()) co_return l.status();
  l->out = gateStream(std::move(l->out), gate_);
  l->err = gateStream(std::move(l->err), gate_);
  co_return std::move(*l);
}

// ---------------------------------------------------------------------- HCS

GatedHcs::GatedHcs(hcs::HcsApi& inner, std::shared_ptr<Gate> gate) : inner_(inner), gate_(std::move(gate)) {
  hook_ = gate_->onKill([this] {
    for (auto h : processes_) inner_.closeProcess(h);
    for (auto h : systems_) inner_.closeComputeSystem(h);
    processes_.clear();
    systems_.clear();
  });
}

GatedHcs::~GatedHcs() { gate_->forget(hook_); }

template <typename T>
Task<T> GatedHcs::op(const char* what, Task<T> call) {
  if (!gate_->alive()) co_return deadProcessError(what);
  ++pending_;
  T r = co_await std::move(call);
  --pending_;
  co_return r;
}

hcs::EventCallback GatedHcs::gated(hcs::EventCallback cb) {
  return [gate = gate_, cb = std::move(cb)](const hcs::Event& e) {
    if (gate->alive() && cb) cb(e);
  };
}

StatusOr<hcs::SystemHandle> GatedHcs::keepSystem(StatusOr<hcs::SystemHandle> h) {
  if (!h.ok()) return h;
  if (!gate_->alive()) {  // completed after the death: HCS closes what the dead cannot
    inner_.closeComputeSystem(*h);
    return deadProcessError("HcsCreateComputeSystem");
  }
  systems_.insert(*h);
  return h;
}

StatusOr<hcs::ProcessHandle> GatedHcs::keepProcess(StatusOr<hcs::ProcessHandle> h) {
  if (!h.ok()) return h;
  if (!gate_->alive()) {
    inner_.closeProcess(*h);
    return deadProcessError("HcsOpenProcess");
  }
  processes_.insert(*h);
  return h;
}

Task<StatusOr<std::string>> GatedHcs::enumerateComputeSystems(std::string query) {
  return op("HcsEnumerateComputeSystems", inner_.enumerateComputeSystems(std::move(query)));
}

Task<StatusOr<hcs::SystemHandle>> GatedHcs::createComputeSystem(std::string id, std::string configuration) {
  auto h = co_await op("HcsCreateComputeSystem", inner_.createComputeSystem(std::move(id), std::move(configuration)));
  co_return keepSystem(std::move(h));
}

Task<StatusOr<hcs::SystemHandle>> GatedHcs::openComputeSystem(std::string id) {
  auto h = co_await op("HcsOpenComputeSystem", inner_.openComputeSystem(std::move(id)));
  co_return keepSystem(std::move(h));
}

Task<Status> GatedHcs::startComputeSystem(hcs::SystemHandle system, std::string options) {
  return op("HcsStartComputeSystem", inner_.startComputeSystem(system, std::move(options)));
}

Task<Status> GatedHcs::shutDownComputeSystem(hcs::SystemHandle system, std::string options) {
  return op("HcsShutDownComputeSystem", inner_.shutDownComputeSystem(system, std::move(options)));
}

Task<Status> GatedHcs::terminateComputeSystem(hcs::SystemHandle system, std::string options) {
  return op("HcsTerminateComputeSystem", inner_.terminateComputeSystem(system, std::move(options)));
}

Task<Status> GatedHcs::pauseComputeSystem(hcs::SystemHandle system, std::string options) {
  return op("HcsPauseComputeSystem", inner_.pauseComputeSystem(system, std::move(options)));
}

Task<Status> GatedHcs::resumeComputeSystem(hcs::SystemHandle system, std::string options) {
  return op("HcsResumeComputeSystem", inner_.resumeComputeSystem(system, std::move(options)));
}

Task<Status> GatedHcs::saveComputeSystem(hcs::SystemHandle system, std::string options) {
  return op("HcsSaveComputeSystem", inner_.saveComputeSystem(system, std::move(options)));
}

Task<StatusOr<std::string>> GatedHcs::getComputeSystemProperties(hcs::SystemHandle system, std::string query) {
  return op("HcsGetComputeSystemProperties", inner_.getComputeSystemProperties(system, std::move(query)));
}

Task<Status> GatedHcs::modifyComputeSystem(hcs::SystemHandle system, std::string settings) {
  return op("HcsModifyComputeSystem", inner_.modifyComputeSystem(system, std::move(settings)));
}

Status GatedHcs::setComputeSystemCallback(hcs::SystemHandle system, hcs::EventCallback callback) {
  if (!gate_->alive()) return deadProcessError("HcsSetComputeSystemCallback");
  return inner_.setComputeSystemCallback(system, gated(std::move(callback)));
}

void GatedHcs::closeComputeSystem(hcs::SystemHandle system) {
  if (!gate_->alive() || !systems_.erase(system)) return;  // the death closed it
  inner_.closeComputeSystem(system);
}

Task<StatusOr<hcs::CreatedProcess>> GatedHcs::createProcess(hcs::SystemHandle system, std::string parameters) {
  auto p = co_await op("HcsCreateProcess", inner_.createProcess(system, std::move(parameters)));
  if (!p.ok()) co_return p.status();
  auto kept = keepProcess(p->handle);
  if (!kept.ok()) co_return kept.status();
  p->stdinStream = gateStream(std::move(p->stdinStream), gate_);
  p->stdoutStream = gateStream(std::move(p->stdoutStream), gate_);
  p->stderrStream = gateStream(std::move(p->stderrStream), gate_);
  co_return p;
}

Task<StatusOr<hcs::ProcessHandle>> GatedHcs::openProcess(hcs::SystemHandle system, uint32_t pid) {
  auto h = co_await op("HcsOpenProcess", inner_.openProcess(system, pid));
  co_return keepProcess(std::move(h));
}

Task<Status> GatedHcs::signalProcess(hcs::ProcessHandle process, std::string options) {
  return op("HcsSignalProcess", inner_.signalProcess(process, std::move(options)));
}

Task<Status> GatedHcs::terminateProcess(hcs::ProcessHandle process) {
  return op("HcsTerminateProcess", inner_.terminateProcess(process));
}

Task<StatusOr<std::string>> GatedHcs::getProcessProperties(hcs::ProcessHandle process) {
  return op("HcsGetProcessProperties", inner_.getProcessProperties(process));
}

Task<Status> GatedHcs::modifyProcess(hcs::ProcessHandle process, std::string settings) {
  return op("HcsModifyProcess", inner_.modifyProcess(process, std::move(settings)));
}

Status GatedHcs::setProcessCallback(hcs::ProcessHandle process, hcs::EventCallback callback) {
  if (!gate_->alive()) return deadProcessError("HcsSetProcessCallback");
  return inner_.setProcessCallback(process, gated(std::move(callback)));
}

void GatedHcs::closeProcess(hcs::ProcessHandle process) {
  if (!gate_->alive() || !processes_.erase(process)) return;
  inner_.closeProcess(process);
}

// -------------------------------------------------------------------- shim

class ShimProcess::Sink final : public shim::EventSink {
 public:
  Sink(shim::EventSink& inner, std::shared_ptr<Gate> gate) : inner_(inner), gate_(std::move(gate)) {}
  void publish(const std::string& topic, const google::protobuf::MessageLite& event) override {
    if (gate_->alive()) inner_.publish(topic, event);
  }

 private:
  shim::EventSink& inner_;
  std::shared_ptr<Gate> gate_;
};

ShimProcess::ShimProcess(runtime::Runtime& rt, hcs::HcsApi& hcs, shim::ShimPlatform& platform, shim::EventSink& sink,
                         shim::ShimConfig config)
    : gate_(std::make_shared<Gate>()),
      hcs_(hcs, gate_),
      platform_(platform, gate_),
      sink_(std::make_unique<Sink>(sink, gate_)),
      model_(std::make_unique<shim::TaskModel>(rt, hcs_, *sink_, platform_, std::move(config))) {}

}  // namespace hcsshim::sim::campaign
