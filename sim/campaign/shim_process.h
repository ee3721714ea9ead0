// shim_process.h: a shim as a process of the simulated world, so that it can
// die the way a killed process does.
//
// A process's death is what the rest of the system sees of it: its
// connections close (the guests' bridge and stdio connections see EOF), its
// HCS handles close (the compute systems it made go on running, as HCS's
// do), its containerd connection drops (calls in flight fail Unavailable),
// and nothing it does afterwards reaches anyone. In one thread the dead
// shim's coroutines cannot be stopped where they are, so its boundary is
// cut instead: every seam the shim reaches the world through (HCS, the
// guests' vsock, containerd's stdio, its event publisher) goes through a
// Gate, which after kill() refuses or drops everything. What the shim code
// still does after its death stays inside its own objects, as a dead
// process's memory does. (Its HNS client is not gated: the shim only reads
// HNS.)
//
//   ShimProcess shim(node, hcsApi, platform, sink, config);
//   auto r = co_await shim.call(shim.model().create(req));  // containerd's RPC
//   shim.kill();  // from now on: Unavailable, closed, dropped
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "src/hcs/hcs_api.h"
#include "src/runtime/runtime.h"
#include "src/shim/platform.h"
#include "src/shim/task_model.h"

namespace hcsshim::sim::campaign {

// Gate: whether the process lives, and what its death closes.
class Gate {
 public:
  bool alive() const { return alive_; }
  // onKill registers what the death does (close a stream, a handle); the
  // returned id forgets it again (the object went first).
  uint64_t onKill(std::function<void()> fn);
  void forget(uint64_t id) { hooks_.erase(id); }
  // kill runs every hook once, in registration order.
  void kill();

 private:
  bool alive_ = true;
  uint64_t next_ = 1;
  std::map<uint64_t, std::function<void()>> hooks_;
};

// The error a dead process's calls get (never seen by anyone but the dead).
Status deadProcessError(const std::string& what);

// GatedHcs: the HCS API of one process. Handles it holds are closed at its
// death (HCS closes a dead client's handles; its systems keep running); a
// create or open that completes afterwards has its handle closed at once.
// pending(): operations still running in HCS for it.
class GatedHcs final : public hcs::HcsApi {
 public:
  GatedHcs(hcs::HcsApi& inner, std::shared_ptr<Gate> gate);
  ~GatedHcs() override;
  int pending() const { return pending_; }

  runtime::Task<StatusOr<std::string>> enumerateComputeSystems(std::string query) override;
  runtime::Task<StatusOr<hcs::SystemHandle>> createComputeSystem(std::string id, std::string configuration) override;
  runtime::Task<StatusOr<hcs::SystemHandle>> openComputeSystem(std::string id) override;
  runtime::Task<Status> startComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> shutDownComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> terminateComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> pauseComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> resumeComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> saveComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<StatusOr<std::string>> getComputeSystemProperties(hcs::SystemHandle system, std::string query) override;
  runtime::Task<Status> modifyComputeSystem(hcs::SystemHandle system, std::string settings) override;
  Status setComputeSystemCallback(hcs::SystemHandle system, hcs::EventCallback callback) override;
  void closeComputeSystem(hcs::SystemHandle system) override;
  runtime::Task<StatusOr<hcs::CreatedProcess>> createProcess(hcs::SystemHandle system, std::string parameters) override;
  runtime::Task<StatusOr<hcs::ProcessHandle>> openProcess(hcs::SystemHandle system, uint32_t pid) override;
  runtime::Task<Status> signalProcess(hcs::ProcessHandle process, std::string options) override;
  runtime::Task<Status> terminateProcess(hcs::ProcessHandle process) override;
  runtime::Task<StatusOr<std::string>> getProcessProperties(hcs::ProcessHandle process) override;
  runtime::Task<Status> modifyProcess(hcs::ProcessHandle process, std::string settings) override;
  Status setProcessCallback(hcs::ProcessHandle process, hcs::EventCallback callback) override;
  void closeProcess(hcs::ProcessHandle process) override;

 private:
  template <typename T>
  runtime::Task<T> op(const char* what, runtime::Task<T> call);
  hcs::EventCallback gated(hcs::EventCallback cb);
  StatusOr<hcs::SystemHandle> keepSystem(StatusOr<hcs::SystemHandle> h);
  StatusOr<hcs::ProcessHandle> keepProcess(StatusOr<hcs::ProcessHandle> h);

  hcs::HcsApi& inner_;
  std::shared_ptr<Gate> gate_;
  uint64_t hook_ = 0;
  int pending_ = 0;
  std::set<hcs::SystemHandle> systems_;
  std::set<hcs::ProcessHandle> processes_;
};

// GatedPlatform: the shim's platform of one process - the guests' vsock
// connections and containerd's stdio closed at its death, nothing opened
// after it.
class GatedPlatform final : public shim::ShimPlatform, private shim::StdioEndpoints {
 public:
  GatedPlatform(shim::ShimPlatform& inner, std::shared_ptr<Gate> gate) : inner_(inner), gate_(std::move(gate)) {}
  std::unique_ptr<bridge::VsockHost> vsockFor(const std::string& vmId) override;
  runtime::Task<StatusOr<std::unique_ptr<hns::HnsApi>>> connectHns() override { return inner_.connectHns(); }
  shim::StdioEndpoints& stdio() override { return *this; }
  shim::RootfsMounter& rootfs() override { return inner_.rootfs(); }

 private:
  Status checkOutputUris(const std::string& out, const std::string& err) override {
    return inner_.stdio().checkOutputUris(out, err);
  }
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openOutput(std::string uri) override;
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openInput(std::string uri) override;
  runtime::Task<StatusOr<shim::LoggerStreams>> startBinaryLogger(shim::BinaryLoggerOptions options) override;

  shim::ShimPlatform& inner_;
  std::shared_ptr<Gate> gate_;
};

// gateStream: `s` closed at the gate's death, refusing reads and writes after it.
std::unique_ptr<runtime::Stream> gateStream(std::unique_ptr<runtime::Stream> s, std::shared_ptr<Gate> gate);

// ShimProcess: one shim - its task model behind the gated seams.
class ShimProcess {
 public:
  ShimProcess(runtime::Runtime& rt, hcs::HcsApi& hcs, shim::ShimPlatform& platform, shim::EventSink& sink,
              shim::ShimConfig config);
  shim::TaskModel& model() { return *model_; }
  bool alive() const { return gate_->alive(); }
  // pendingHcs: HCS operations of this process's still running in HCS.
  int pendingHcs() const { return hcs_.pending(); }
  // kill: the process dies now.
  void kill() { gate_->kill(); }

  // call: containerd's RPC to this shim - the model's answer, or
  // Unavailable the moment the shim dies (or at once if it is dead).
  template <typename T>
  runtime::Task<StatusOr<T>> call(runtime::Task<StatusOr<T>> rpc);

 private:
  class Sink;
  std::shared_ptr<Gate> gate_;
  GatedHcs hcs_;
  GatedPlatform platform_;
  std::unique_ptr<shim::EventSink> sink_;
  std::unique_ptr<shim::TaskModel> model_;
};

template <typename T>
runtime::Task<StatusOr<T>> ShimProcess::call(runtime::Task<StatusOr<T>> rpc) {
  if (!gate_->alive()) co_return UnavailableError("ttrpc: the shim is gone (connection closed)");
  struct Slot {
    std::optional<StatusOr<T>> value;
    runtime::WaitList changed;
  };
  auto slot = std::make_shared<Slot>();
  uint64_t hook = gate_->onKill([slot] {
    if (slot->value) return;
    slot->value = UnavailableError("ttrpc: the shim died (connection closed)");
    slot->changed.notifyAll();
  });
  // The call runs in the shim (it goes on there if the shim dies); its
  // answer reaches containerd only while the shim lives.
  runtime::spawn([](runtime::Task<StatusOr<T>> rpc, std::shared_ptr<Slot> slot, std::shared_ptr<Gate> gate,
                    uint64_t hook) -> runtime::Task<void> {
    StatusOr<T> r = co_await std::move(rpc);
    if (slot->value) co_return;
    gate->forget(hook);
    slot->value = std::move(r);
    slot->changed.notifyAll();
  }(std::move(rpc), slot, gate_, hook));
  while (!slot->value) co_await slot->changed.wait();
  co_return std::move(*slot->value);
}

}  // namespace hcsshim::sim::campaign
