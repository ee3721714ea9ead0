#include "sim/campaign/campaign.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gcs/network.h"
#include "hcs_fake/testing/fake_host.h"
#include "sim/campaign/shim_process.h"
#include "sim/node.h"
#include "sim/world.h"
#include "src/bridge/protocol.h"
#include "src/common/bug_zoo.h"
#include "src/containerd/api/events.pb.h"
#include "src/hns/hcn.h"
#include "src/runtime/random.h"
#include "src/shim/task_model.h"
#include "src/shim/testing/sim_platform.h"
#include "src/shim/vm_options.h"

namespace hcsshim::sim::campaign {

namespace {

using runtime::Task;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace taskv2 = shim::taskv2;

constexpr std::string_view kFaultNames[kFaultCount] = {
    "split-writes", "delayed-writes", "slow-boot", "late-hcs", "notification-chaos", "guest-crash", "stdio-cut",
    "bridge-cut", "hcs-hang", "shim-death",
};

// How long a call may take once the faults have stopped: the shim's longest
// wait by design (a guest that died booting, its exit notification lost:
// the 60 s boot timeout) and a VM's 10 s shutdown timeout, with slack.
constexpr runtime::Duration kCallBound = 90s;
// With HCS operations that hang: the HCS client's 4 min operation timeout
// (hcsshim's), then the cleanup.
constexpr runtime::Duration kCallBoundHcsHang = 6min;
// How long a hung HCS operation takes (the fault hcs-hang).
constexpr runtime::Duration kHang = std::chrono::hours(1);
// When the run gives up on actors that never finish.
constexpr runtime::Duration kRunBound = 30min;

// What one process is: its program and input, the signals it was sent,
// whether it started, and what was reported for it.
struct ProcRecord {
  std::vector<std::string> args;
  std::string input;  // cat's stdin
  bool inputClosed = false;  // CloseIO was sent: cat may have read only part of it
  std::set<int> signals;
  bool started = false;
  std::vector<uint32_t> exits;
  std::string outputAtExit;
  std::string links;  // what `ip` prints in this process's network namespace
};

using ProcKey = std::pair<std::string, std::string>;  // (task, exec)

// The events, checked as they come.
class CheckingSink final : public shim::EventSink {
 public:
  explicit CheckingSink(shim::testing::MemoryStdio& stdio) : stdio_(stdio) {}
  void publish(const std::string& topic, const google::protobuf::MessageLite& event) override {
    std::string bytes = event.SerializeAsString();
    std::string task;
    if (topic == "/tasks/exit") {
      containerd::events::TaskExit e;
      e.ParseFromString(bytes);
      task = e.container_id();
      std::string exec = e.id() == e.container_id() ? "" : e.id();
      ProcRecord& p = procs[{task, exec}];
      p.exits.push_back(e.exit_status());
      p.outputAtExit = stdio_.written["mem://" + task + (exec.empty() ? "" : "/" + exec)];
    } else if (topic == "/tasks/create") {
      containerd::events::TaskCreate e;
      e.ParseFromString(bytes);
      task = e.container_id();
      if (order.count(task)) violations.push_back("task id " + task + " created twice");
    } else if (topic == "/tasks/delete") {
      containerd::events::TaskDelete e;
      e.ParseFromString(bytes);
      task = e.container_id();
    } else if (topic == "/tasks/start") {
      containerd::events::TaskStart e;
      e.ParseFromString(bytes);
      task = e.container_id();
    } else {
      return;  // exec-added/started, paused/resumed: not ordered here
    }
    auto& seq = order[task];
    if (!seq.empty() && seq.back() == "/tasks/delete") violations.push_back(topic + " for " + task + " after its delete");
    if (topic == "/tasks/start" && (seq.empty() || seq.front() != "/tasks/create")) {
      violations.push_back("start of " + task + " before its create");
    }
    seq.push_back(topic);
  }
  std::map<ProcKey, ProcRecord> procs;  // what was reported
  std::map<std::string, std::vector<std::string>> order;
  std::vector<std::string> violations;

 private:
  shim::testing::MemoryStdio& stdio_;
};

// Programs of the fake runtime (gcs/testing/fake_runtime.h).
std::vector<std::string> program(runtime::Random& rnd, const std::string& tag) {
  switch (rnd.uniform(7)) {
    case 0: return {"echo", tag};
    case 1: return {"exit", std::to_string(rnd.uniform(7))};
    case 2: return {"true"};
    case 3: return {"false"};
    case 4: return {"cat"};
    case 5: return {"ip"};
    default: return {"sleep"};
  }
}

// ownExit: what a program exits with by itself (nullopt: only a signal ends it).
std::optional<uint32_t> ownExit(const std::vector<std::string>& args) {
  if (args[0] == "echo" || args[0] == "true" || args[0] == "cat" || args[0] == "ip") return 0;
  if (args[0] == "false") return 1;
  if (args[0] == "exit") return static_cast<uint32_t>(std::stoul(args[1]));
  return std::nullopt;
}

// oneLine: text quoted for a one-line message.
std::string oneLine(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// ownOutput: what a program writes to stdout.
std::string ownOutput(const ProcRecord& p) {
  if (p.args[0] == "echo") return p.args[1] + "\n";
  if (p.args[0] == "cat") return p.input;
  if (p.args[0] == "ip") return "lo\n" + p.links;
  return "";
}

class Run {
 public:
  Run(const Options& o)
      : options_(o), host_(o.seed, o.dir), rnd_(o.seed ^ 0x5eed5eedULL), faultRnd_(o.seed * 0x9E3779B97F4A7C15ULL + 7) {
    if (o.faults) {
      faults_ = *o.faults & kAllFaults;
    } else {
      for (unsigned k = 0; k < kFaultCount; ++k) {
        if (((kSwarmFaults >> k) & 1u) && faultRnd_.chance(0.5)) faults_ |= 1u << k;
      }
    }
    faultWindowEnd_ = runtime::TimePoint(3s + std::chrono::milliseconds(faultRnd_.uniform(5000)));
    platform_ = std::make_unique<shim::testing::TestPlatform>(*host_.guests);
    sink_ = std::make_unique<CheckingSink>(platform_->stdio_);
    startShim();
    host_.world.setTraceAlias(o.dir, "$DIR");
    hns_ = std::make_unique<hcs_fake::InProcessHns>(host_.hns);
    hcn_ = std::make_unique<hns::HcnClient>(*hns_);
    platform_->hns = [this] { return std::make_unique<hcs_fake::InProcessHns>(host_.hns); };
    installFaults();
  }

  Result run() {
    Result r;
    r.faults = faults_;
    int done = 0;
    bool networked = false;
    runtime::spawn([](Run& r, bool& d) -> Task<void> {
      co_await r.createNetwork();
      d = true;
    }(*this, networked));
    host_.world.runUntil([&] { return networked; });
    for (int a = 0; a < options_.actors; ++a) runtime::spawn(actor(a, done));
    runtime::TimePoint deadline = runtime::TimePoint(kRunBound);
    auto late = [&](runtime::Duration extra = {}) {
      return host_.world.now() > std::max(deadline, hangsEnd_ + kRunBound) + extra;
    };
    bool finished = host_.world.runUntil([&] { return done == options_.actors || late(); }) &&
                    done == options_.actors;
    std::ostringstream why;
    if (!finished) {
      why << "liveness: " << (options_.actors - done) << " actors never finished (a call did not return)\n";
      for (const auto& [k, call] : inFlight_) why << "liveness: still waiting for " << call << "\n";
    }
    // containerd's cleanups after dead shims end first (they wait for the
    // dead shims' HCS operations, hung ones too).
    host_.world.runUntil([&] { return cleanups_ == 0 || late(10min); });
    if (cleanups_ != 0) why << "liveness: " << cleanups_ << " cleanups after a dead shim never finished\n";
    check(why);
    if (finished) {
      // containerd's Shutdown once no task is left ends the shim.
      bool shut = false;
      runtime::spawn([](shim::TaskModel& m, bool& d) -> Task<void> {
        taskv2::ShutdownRequest req;
        (void)co_await m.shutdown(req);
        d = true;
      }(shim_->model(), shut));
      host_.world.runUntil([&] { return shut || late(10min); });
      if (!shut) why << "liveness: Shutdown never returned\n";
      if (shut && !shim_->model().done()) why << "Shutdown with no task left did not end the shim\n";
      // Every shim's model closed: the live one's work, and what the dead
      // ones' memory held (their seams are cut: nothing leaves them).
      int closing = 0;
      for (auto& sp : shims_) {
        ++closing;
        runtime::spawn([](shim::TaskModel& m, int& c) -> Task<void> {
          co_await m.closeAll();
          --c;
        }(sp->model(), closing));
      }
      bool closed = host_.world.runUntil([&] { return closing == 0 || late(10min); });
      host_.world.runFor(15s);
      // What an operation that hung leaves behind is released when HCS answers it at last.
      if (hangsEnd_ > host_.world.now()) host_.world.runUntil([&] { return host_.world.now() > hangsEnd_ + 15s; });
      if (!closed) why << "liveness: closing the model never finished\n";
      if (host_.guests->running() != 0) why << host_.guests->running() << " VMs outlived their tasks\n";
      if (host_.service->systemCount() != 0) why << host_.service->systemCount() << " compute systems left in HCS\n";
      for (auto type : {hns::HcnObject::kEndpoint, hns::HcnObject::kNamespace}) {
        auto listed = host_.hns.enumerate(type, "{}");
        auto ids = parseJson(listed.ok() ? *listed : std::string("[]"));
        if (ids.ok() && ids->is_array() && !ids->empty()) {
          why << ids->size() << " HNS " << hns::objectName(type) << "s left\n";
        }
      }
      for (const std::string& vm : host_.guests->gracefulStopsWithBridgeDown()) {
        if (!broken_.count(vm)) why << "VM " << vm << " was shut down gracefully with its bridge already down\n";
      }
      for (const std::string& vm : host_.guests->unexpectedExits()) {
        if (!broken_.count(vm)) why << "VM " << vm << " died (UnexpectedExit) though no fault killed it\n";
      }
    }
    std::string text = why.str();
    for (size_t start = 0; start < text.size();) {
      size_t end = text.find('\n', start);
      r.violations.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    r.injected = injected_;
    r.trace = host_.world.traceText();
    r.traceHash = sim::fnv1a(r.trace);
    r.lifecycles = lifecycles_;
    for (const auto& [k, p] : sink_->procs) r.exits += p.exits.size();
    r.events = host_.world.eventsRun();
    r.virtualTime = host_.world.now();
    r.slowestCall = slowestCall_;
    r.shimsKilled = shimsKilled_;
    r.tasksCleanedUp = tasksCleanedUp_;
    return r;
  }

 private:
  bool has(Fault f) const { return (faults_ >> static_cast<unsigned>(f)) & 1u; }
  // excused: a call on `id` may fail for a fault - its VM broke, or an HCS
  // operation it made hung past the client's timeout.
  bool excused(const std::string& id, const Status& st) const {
    return broken_.count(vmOf(id)) || (has(Fault::kHcsHang) && st.hresult() == hresult::kHcsOperationTimeout) ||
           shimDied(id);
  }
  // shimDied: task id's shim was killed (containerd cleaned up after it).
  bool shimDied(const std::string& id) const {
    auto it = shimOf_.find(id);
    return it != shimOf_.end() && !it->second->alive();
  }
  ShimProcess& shimFor(const std::string& task) {
    auto it = shimOf_.find(task);
    return it == shimOf_.end() ? *shim_ : *it->second;
  }
  // startShim: containerd's next shim (the first, or one after a death).
  void startShim() {
    shims_.push_back(std::make_unique<ShimProcess>(host_.node, *host_.api, *platform_, *sink_,
                                                   shim::ShimConfig{.ns = "default", .defaultBootFiles = host_.bootFiles}));
    shim_ = shims_.back().get();
  }
  // killShim: the shim dies (kill -9); containerd sees its connection drop,
  // starts another for new tasks and cleans up after the dead one.
  void killShim() {
    ShimProcess* dead = shim_;
    bool hasTasks = false;
    for (const auto& [task, sp] : shimOf_) {
      auto seq = sink_->order.find(task);
      hasTasks = hasTasks || (sp == dead && (seq == sink_->order.end() || seq->second.back() != "/tasks/delete"));
    }
    if (!hasTasks) return;
    inject("shim-death");
    for (const auto& [task, sp] : shimOf_) {
      if (sp == dead) broken_.insert(vmOf(task));  // its guests lose their bridge
    }
    dead->kill();
    ++shimsKilled_;
    startShim();
    ++cleanups_;
    runtime::spawn(cleanupAfter(dead));
  }
  // cleanupAfter: containerd's cleanup after a dead shim - `shim delete` for
  // each of its tasks once HCS has finished what the dead shim had asked
  // for, then the task's exit (if it had started and none was reported)
  // and its delete, as containerd publishes them.
  Task<void> cleanupAfter(ShimProcess* dead) {
    while (dead->pendingHcs() > 0) co_await runtime::sleep(host_.node.loop(), 100ms);
    std::vector<std::string> tasks;
    for (const auto& [task, sp] : shimOf_) {
      if (sp == dead) tasks.push_back(task);
    }
    for (const std::string& task : tasks) {
      bool ownsVm = !sandboxOf_.count(task);
      taskv2::DeleteResponse r = co_await shim::cleanupAfterDeadShim(host_.node, host_.api.get(), task, ownsVm);
      auto seq = sink_->order.find(task);
      bool created = seq != sink_->order.end() && !seq->second.empty() && seq->second.front() == "/tasks/create";
      if (!created || seq->second.back() == "/tasks/delete") continue;
      ++tasksCleanedUp_;
      bool started = std::find(seq->second.begin(), seq->second.end(), "/tasks/start") != seq->second.end();
      auto proc = sink_->procs.find({task, ""});
      if (started && (proc == sink_->procs.end() || proc->second.exits.empty())) {
        containerd::events::TaskExit e;
        e.set_container_id(task);
        e.set_id(task);
        e.set_pid(r.pid());
        e.set_exit_status(r.exit_status());
        sink_->publish("/tasks/exit", e);
      }
      containerd::events::TaskDelete d;
      d.set_container_id(task);
      d.set_pid(r.pid());
      d.set_exit_status(r.exit_status());
      sink_->publish("/tasks/delete", d);
    }
    --cleanups_;
  }
  bool faultsOn() const { return host_.world.now() < faultWindowEnd_; }
  void inject(std::string what) {
    injected_.push_back(std::to_string(host_.world.now().count() / 1000000) + "ms " + what);
    host_.node.trace("fault " + injected_.back());
  }

  void installFaults() {
    auto ms = [](uint64_t n) { return runtime::Duration(std::chrono::milliseconds(n)); };
    host_.world.setFaultHook([this, ms](const sim::WriteInfo& w) -> sim::WriteFault {
      if (!faultsOn()) return sim::WriteFault::none();
      auto vm = host_.guests->vmOfAddress(w.address);
      bool bridge = vm && vm->second == bridge::kBridgePort;
      bool stdio = vm && vm->second > bridge::kBridgePort;
      if (has(Fault::kBridgeCut) && bridge && faultRnd_.chance(0.004)) {
        broken_.insert(vm->first);
        inject("bridge-cut " + vm->first);
        return sim::WriteFault::resetAfter(faultRnd_.uniform(w.size));
      }
      if (has(Fault::kStdioCut) && stdio && faultRnd_.chance(0.05)) {
        outputCut_.insert(vm->first);
        inject("stdio-cut " + vm->first + " port " + std::to_string(vm->second));
        return sim::WriteFault::resetAfter(faultRnd_.uniform(w.size));
      }
      if (has(Fault::kSplitWrites) && w.size > 1 && faultRnd_.chance(0.3)) {
        return sim::WriteFault::splitAt(1 + faultRnd_.uniform(std::min<size_t>(w.size - 1, 40)));
      }
      if (has(Fault::kDelayedWrites) && faultRnd_.chance(0.2)) return sim::WriteFault::delayBy(ms(faultRnd_.uniform(30)));
      return sim::WriteFault::none();
    });
    if (has(Fault::kSlowBoot)) {
      host_.guests->setBootDelay([this, ms] { return faultsOn() ? ms(faultRnd_.uniform(3000)) : ms(0); });
    }
    hcs_fake::ServiceFaults hcs;
    if (has(Fault::kLateHcs) || has(Fault::kHcsHang)) {
      hcs.operationDelay = [this, ms] {
        if (!faultsOn()) return ms(0);
        if (has(Fault::kHcsHang) && faultRnd_.chance(0.02)) {
          inject("hcs-hang");
          hangsEnd_ = std::max(hangsEnd_, host_.world.now() + kHang);
          return kHang;
        }
        if (!has(Fault::kLateHcs) || !faultRnd_.chance(0.3)) return ms(0);
        return faultRnd_.chance(0.1) ? ms(faultRnd_.uniform(2000)) : ms(faultRnd_.uniform(100));
      };
    }
    if (has(Fault::kNotificationChaos)) {
      hcs.notificationCopies = [this] {
        if (!faultsOn()) return 1;
        if (faultRnd_.chance(0.05)) {
          inject("notification dropped");
          return 0;
        }
        return faultRnd_.chance(0.2) ? 2 : 1;
      };
      hcs.notificationDelay = [this, ms] { return faultsOn() ? ms(faultRnd_.uniform(50)) : ms(0); };
    }
    host_.service->setFaults(std::move(hcs));
    // The shim dies a while after one of the creates (its tasks are alive then).
    if (has(Fault::kShimDeath)) deathAfterCreate_ = 1 + static_cast<int>(faultRnd_.uniform(options_.actors * options_.generations));
    if (has(Fault::kGuestCrash)) {
      int crashes = 1 + static_cast<int>(faultRnd_.uniform(2));
      for (int i = 0; i < crashes; ++i) {
        auto at = std::chrono::milliseconds(200 + faultRnd_.uniform(static_cast<uint64_t>(
                                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          faultWindowEnd_)
                                                          .count() -
                                                      200)));
        host_.world.schedule(at, [this] {
          auto ids = host_.guests->runningIds();
          if (ids.empty()) return;
          std::string id = ids[faultRnd_.uniform(ids.size())];
          broken_.insert(id);
          inject("guest-crash " + id);
          host_.guests->crash(id);
        });
      }
    }
  }

  // timed: a call, with how long it took once the faults had stopped.
  // (verb and who, not one string: no temporaries with destructors in a
  // co_await expression - GCC 12.)
  // rpc: containerd's call `fn` for `task` on the task's shim, timed.
  template <typename Req, typename T>
  Task<StatusOr<T>> rpc(const char* verb, std::string who, std::string task,
                        shim::TaskModel::Result<T> (shim::TaskModel::*fn)(Req), Req req) {
    ShimProcess& sh = shimFor(task);
    Task<StatusOr<T>> inner = (sh.model().*fn)(std::move(req));
    Task<StatusOr<T>> gated = sh.call(std::move(inner));
    StatusOr<T> r = co_await timed(verb, who, std::move(gated));
    co_return r;
  }

  template <typename T>
  Task<T> timed(const char* verb, const std::string& who, Task<T> call) {
    runtime::TimePoint start = host_.world.now();
    uint64_t key = nextCall_++;
    inFlight_[key] = std::string(verb) + " " + who + " (called at " + std::to_string(start.count() / 1000000) + " ms)";
    T out = co_await std::move(call);
    inFlight_.erase(key);
    runtime::TimePoint from = std::max(start, faultWindowEnd_);
    runtime::Duration took = host_.world.now() > from ? host_.world.now() - from : runtime::Duration(0);
    if (took > slowestCall_) slowestCall_ = took;
    // A call that waited on a hung HCS operation (its VM frozen, say) may
    // take until that operation completes, plus the usual bound.
    bool behindHang = hangsEnd_ > start && host_.world.now() <= hangsEnd_ + kCallBound;
    if (took > (has(Fault::kHcsHang) ? kCallBoundHcsHang : kCallBound) && !behindHang) {
      lateCalls_.push_back(std::string(verb) + " " + who + " took " + std::to_string(took.count() / 1000000) + " ms after the fault window");
    }
    co_return out;
  }

  void check(std::ostringstream& why) {
    for (const auto& v : sink_->violations) why << "order: " << v << "\n";
    for (const auto& v : lateCalls_) why << "liveness: " << v << "\n";
    for (const auto& v : failedCalls_) why << v << "\n";
    for (const auto& [key, p] : expected_) {
      auto it = sink_->procs.find(key);
      const ProcRecord none;
      const ProcRecord& got = it == sink_->procs.end() ? none : it->second;
      std::string name = key.first + (key.second.empty() ? "" : "/" + key.second);
      std::string vm = vmOf(key.first);
      bool vmBroken = broken_.count(vm) > 0;
      bool dead = shimDied(key.first);
      if (!p.started) {
        if (!got.exits.empty()) why << "exit reported for " << name << ", which never started\n";
        continue;
      }
      // A dead shim's processes: an exec's exit may be lost with it (containerd
      // reports the init's).
      if (dead && got.exits.empty() && !key.second.empty()) continue;
      if (got.exits.size() != 1) {
        why << name << " reported " << got.exits.size() << " exits\n";
        continue;
      }
      uint32_t code = got.exits[0];
      auto own = ownExit(p.args);
      bool bySignal = code > 128 && p.signals.count(static_cast<int>(code - 128));
      bool ownCode = own && code == *own;
      if (!ownCode && !bySignal && !vmBroken) why << name << " exited " << code << ", which its program cannot\n";
      std::string want = ownOutput(p);
      const std::string& out = got.outputAtExit;
      bool cut = vmBroken || outputCut_.count(vm) > 0 || p.inputClosed;
      if (!want.starts_with(out)) {
        why << name << "'s output is not what it wrote (" << oneLine(out) << ", wrote " << oneLine(want) << ")\n";
      } else if (!want.empty() && ownCode && !cut && out != want) {
        why << name << "'s exit came before its output (had " << oneLine(out) << " of " << oneLine(want) << ")\n";
      }
    }
    for (const auto& [task, seq] : sink_->order) {
      if (seq.empty() || seq.back() != "/tasks/delete") why << task << " was never deleted\n";
    }
  }

  // One actor: `generations` tasks, one after the other, each with a fresh id.
  Task<void> actor(int a, int& done) {
    runtime::Random rnd(rnd_.next());
    for (int g = 0; g < options_.generations; ++g) {
      std::string id = "s" + std::to_string(options_.seed) + "-a" + std::to_string(a) + "-g" + std::to_string(g);
      co_await lifecycle(id, rnd);
    }
    ++done;
  }

  Task<void> pauseFor(runtime::Random& rnd) {
    co_await runtime::sleep(host_.node.loop(), std::chrono::milliseconds(rnd.uniform(50)));
  }

  // stdioFor: stdout and, for cat and some others (`ctr run -i`), stdin.
  void stdioFor(runtime::Random& rnd, ProcRecord& p, const std::string& uriTail, std::string* in, std::string* out) {
    *out = "mem://" + uriTail;
    if (p.args[0] == "cat" || rnd.chance(0.3)) {
      p.input = "in:" + uriTail + "\n";
      *in = "mem-in://" + uriTail;
      platform_->stdio_.inputs[*in] = p.input;
    }
  }

  // createRequest: a task's bundle (rootfs directory, config.json running
  // p's program, with these annotations) and its CreateTaskRequest.
  taskv2::CreateTaskRequest createRequest(runtime::Random& rnd, const std::string& id, ProcRecord& p,
                                          const Json& annotations, const std::string& netns = "") {
    std::string b = options_.dir + "/bundles/" + id;
    fs::create_directories(b + "/rootfs");
    Json spec = {{"ociVersion", "1.0.2"},
                 {"process", {{"args", p.args}, {"cwd", "/"}}},
                 {"root", {{"path", "rootfs"}}},
                 {"linux", Json::object()}};
    if (!annotations.empty()) spec["annotations"] = annotations;
    if (!netns.empty()) spec["windows"]["network"]["networkNamespace"] = netns;
    std::ofstream(b + "/config.json") << jsonText(spec);
    taskv2::CreateTaskRequest create;
    create.set_id(id);
    create.set_bundle(b);
    std::string in, out;
    stdioFor(rnd, p, id, &in, &out);
    create.set_stdin(in);
    create.set_stdout(out);
    return create;
  }

  // The pods' network, as a CNI plugin on a Windows host would have made it.
  Task<void> createNetwork() {
    schema::HostComputeNetwork n = hns::natNetwork("campaign", "10.88.0.0/16", "10.88.0.1");
    auto net = co_await hcn_->createNetwork(n);
    if (net.ok()) {
      networkId_ = net->id.value_or("");
    } else {
      failedCalls_.push_back("HNS: creating the network failed: " + net.status().toString());
    }
  }

  // plugNetwork: CNI's ADD for task `id` - an endpoint in the network, a
  // namespace, the endpoint attached; what `ip` will show there.
  struct TaskNet {
    std::string ns, endpoint, links;
  };
  Task<std::optional<TaskNet>> plugNetwork(const std::string& id) {
    auto ep = co_await hcn_->createEndpoint(networkId_, schema::HostComputeEndpoint{});
    if (!ep.ok()) {
      failedCalls_.push_back("HNS: endpoint for " + id + ": " + ep.status().toString());
      co_return std::nullopt;
    }
    schema::HostComputeNamespace doc;
    doc.type = "Guest";
    auto ns = co_await hcn_->createNamespace(doc);
    TaskNet net{ns.ok() ? ns->id.value_or("") : "", ep->id.value_or(""), ""};
    Status st = ns.status();  // (no co_await inside ?: - GCC 12)
    if (st.ok()) st = co_await hcn_->attachEndpoint(net.ns, net.endpoint);
    if (!st.ok()) failedCalls_.push_back("HNS: namespace for " + id + ": " + st.toString());
    net.links = "eth0 " + gcs::linuxMac(ep->macAddress.value_or("")) + " " +
                ep->ipConfigurations.at(0).ipAddress.value_or("") + "/" +
                std::to_string(ep->ipConfigurations.at(0).prefixLength.value_or(24)) + "\n";
    nets_[id] = net;
    co_return net;
  }

  // unplugNetwork: CNI's DEL once task `id` is gone - nothing may refuse it.
  Task<void> unplugNetwork(const std::string& id) {
    auto it = nets_.find(id);
    if (it == nets_.end()) co_return;
    TaskNet net = it->second;
    Status detached, removed, nsRemoved;
    if (!net.ns.empty()) detached = co_await hcn_->detachEndpoint(net.ns, net.endpoint);
    removed = co_await hcn_->deleteEndpoint(net.endpoint);
    if (!net.ns.empty()) nsRemoved = co_await hcn_->deleteNamespace(net.ns);
    for (const Status* st : {&detached, &removed, &nsRemoved}) {
      if (!st->ok()) failedCalls_.push_back("HNS: cleaning up after " + id + ": " + st->toString());
    }
  }

  // vmOf: the VM a task runs in (a pod container's is its sandbox's).
  std::string vmOf(const std::string& task) const {
    auto it = sandboxOf_.find(task);
    return shim::vmIdFor(it == sandboxOf_.end() ? task : it->second);
  }

  // podContainer: a container of pod `sandbox` (CRI's annotations), run to
  // its end and deleted before the sandbox is.
  Task<void> podContainer(std::string sandbox, std::string id, runtime::Random& rnd) {
    ProcRecord p;
    p.args = program(rnd, "out-" + id);
    sandboxOf_[id] = sandbox;
    // CRI puts the pod's namespace in each container's spec too.
    auto net = nets_.find(sandbox);
    std::string netns = net == nets_.end() ? "" : net->second.ns;
    p.links = net == nets_.end() ? "" : net->second.links;
    taskv2::CreateTaskRequest create = createRequest(
        rnd, id, p, {{"io.kubernetes.cri.container-type", "container"}, {"io.kubernetes.cri.sandbox-id", sandbox}},
        netns);
    shimOf_[id] = &shimFor(sandbox);  // containerd routes a pod's containers to its sandbox's shim
    auto created = co_await rpc("create", id, create.id(), &shim::TaskModel::create, create);
    if (!created.ok()) {
      if (!excused(id, created.status())) {
        failedCalls_.push_back("create of pod container " + id + " failed though its VM did not break: " +
                               created.status().toString());
      }
      co_return;
    }
    ++lifecycles_;
    expected_[{id, ""}] = p;
    taskv2::StartRequest start;
    start.set_id(id);
    auto started = co_await rpc("start", id, start.id(), &shim::TaskModel::start, start);
    expected_[{id, ""}].started = started.ok();
    if (!started.ok() && !excused(id, started.status())) {
      failedCalls_.push_back("start " + id + " failed though its VM did not break: " + started.status().toString());
    }
    co_await pauseFor(rnd);
    if (started.ok()) {
      taskv2::KillRequest k;
      k.set_id(id);
      k.set_signal(SIGKILL);
      expected_[{id, ""}].signals.insert(SIGKILL);
      (void)co_await rpc("kill", id, k.id(), &shim::TaskModel::kill, k);
      taskv2::WaitRequest w;
      w.set_id(id);
      (void)co_await rpc("wait", id, w.id(), &shim::TaskModel::wait, w);
    }
    taskv2::DeleteRequest d;
    d.set_id(id);
    auto deleted = co_await rpc("delete", id, d.id(), &shim::TaskModel::remove, d);
    if (!deleted.ok() && !shimDied(id)) failedCalls_.push_back("delete " + id + " failed: " + deleted.status().toString());
  }

  Task<void> lifecycle(std::string id, runtime::Random& rnd) {
    ProcRecord init;
    init.args = program(rnd, "out-" + id);
    // A quarter of the tasks get a network: an HCN namespace in the spec.
    std::string netns;
    if (rnd.chance(0.25)) {
      auto net = co_await plugNetwork(id);
      if (net) {
        netns = net->ns;
        init.links = net->links;
      }
    }
    taskv2::CreateTaskRequest create = createRequest(rnd, id, init, Json::object(), netns);
    shimOf_[id] = shim_;
    auto created = co_await rpc("create", id, create.id(), &shim::TaskModel::create, create);
    if (!created.ok()) {  // refused: nothing to clean up but the network
      co_await unplugNetwork(id);
      co_return;
    }
    ++lifecycles_;
    expected_[{id, ""}] = init;
    if (++creates_ == deathAfterCreate_) {
      host_.world.schedule(std::chrono::milliseconds(faultRnd_.uniform(200)), [this] { killShim(); });
    }
    co_await pauseFor(rnd);
    taskv2::StartRequest start;
    start.set_id(id);
    if (rnd.chance(0.9)) {
      auto started = co_await rpc("start", id, start.id(), &shim::TaskModel::start, start);
      expected_[{id, ""}].started = started.ok();
      // Nothing makes a container's first start fail but a broken VM.
      if (!started.ok() && !excused(id, started.status())) {
        failedCalls_.push_back("start " + id + " failed though its VM did not break: " + started.status().toString());
      }
    }
    int ops = static_cast<int>(rnd.uniform(6));
    std::vector<std::string> execs;
    for (int i = 0; i < ops; ++i) {
      co_await pauseFor(rnd);
      switch (rnd.uniform(8)) {
        case 0: {  // an exec, usually started
          std::string execId = "e" + std::to_string(i);
          ProcRecord p;
          p.args = program(rnd, "out-" + id + "-" + execId);
          p.links = init.links;  // an exec is in its container's namespaces
          taskv2::ExecProcessRequest req;
          req.set_id(id);
          req.set_exec_id(execId);
          std::string ein, eout;
          stdioFor(rnd, p, id + "/" + execId, &ein, &eout);
          req.set_stdin(ein);
          req.set_stdout(eout);
          req.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
          req.mutable_spec()->set_value(jsonText(Json{{"args", p.args}, {"cwd", "/"}}));
          std::string name = id + "/" + execId;
          auto added = co_await rpc("exec", name, req.id(), &shim::TaskModel::exec, req);
          if (!added.ok()) break;
          execs.push_back(execId);
          expected_[{id, execId}] = p;
          if (rnd.chance(0.8)) {
            taskv2::StartRequest es;
            es.set_id(id);
            es.set_exec_id(execId);
            auto started = co_await rpc("start", name, es.id(), &shim::TaskModel::start, es);
            expected_[{id, execId}].started = started.ok();
          }
          break;
        }
        case 1: {  // a signal to the init or an exec
          std::string target = execs.empty() || rnd.chance(0.5) ? "" : execs[rnd.uniform(execs.size())];
          int sig = rnd.chance(0.5) ? SIGTERM : SIGKILL;
          taskv2::KillRequest k;
          k.set_id(id);
          k.set_exec_id(target);
          k.set_signal(static_cast<uint32_t>(sig));
          // Recorded before the call: the signal may end the process
          // before the call returns (or the call fail after it arrived).
          expected_[{id, target}].signals.insert(sig);
          (void)co_await rpc("kill", id, k.id(), &shim::TaskModel::kill, k);
          break;
        }
        case 2: {  // pause, a while, resume
          taskv2::PauseRequest p;
          p.set_id(id);
          auto paused = co_await rpc("pause", id, p.id(), &shim::TaskModel::pause, p);
          co_await pauseFor(rnd);
          taskv2::ResumeRequest r;
          r.set_id(id);
          if (paused.ok()) (void)co_await rpc("resume", id, r.id(), &shim::TaskModel::resume, r);
          break;
        }
        case 3: {
          taskv2::PidsRequest p;
          p.set_id(id);
          (void)co_await rpc("pids", id, p.id(), &shim::TaskModel::pids, p);
          break;
        }
        case 4: {  // containerd closing a process's stdin (ctr's EOF)
          std::string target = execs.empty() || rnd.chance(0.5) ? "" : execs[rnd.uniform(execs.size())];
          taskv2::CloseIORequest c;
          c.set_id(id);
          c.set_exec_id(target);
          c.set_stdin(true);
          expected_[{id, target}].inputClosed = true;
          (void)co_await rpc("closeio", id, c.id(), &shim::TaskModel::closeIo, c);
          break;
        }
        case 5: {  // a resize (these processes have no terminal: refused)
          taskv2::ResizePtyRequest r;
          r.set_id(id);
          r.set_width(static_cast<uint32_t>(rnd.uniform(300)));
          r.set_height(static_cast<uint32_t>(rnd.uniform(100)));
          (void)co_await rpc("resize", id, r.id(), &shim::TaskModel::resizePty, r);
          break;
        }
        case 6: {
          taskv2::StatsRequest st;
          st.set_id(id);
          (void)co_await rpc("stats", id, st.id(), &shim::TaskModel::stats, st);
          break;
        }
        default: {
          taskv2::StateRequest s;
          s.set_id(id);
          (void)co_await rpc("state", id, s.id(), &shim::TaskModel::state, s);
          break;
        }
      }
    }
    // A pod now and then: the task is its sandbox (CRI's sandbox runs a
    // pause process - here a sleep that started), a container joins its VM.
    if (expected_[{id, ""}].started && init.args[0] == "sleep" && rnd.chance(0.8)) {
      co_await podContainer(id, id + "-c", rnd);
    }
    // The end of every generation: everything killed, waited and deleted
    // (as containerd does for `ctr run --rm`).
    std::vector<std::string> targets = execs;
    targets.push_back("");
    for (const std::string& target : targets) {
      std::string name = id + (target.empty() ? "" : "/" + target);
      if (expected_[{id, target}].started) {
        taskv2::KillRequest k;
        k.set_id(id);
        k.set_exec_id(target);
        k.set_signal(SIGKILL);
        expected_[{id, target}].signals.insert(SIGKILL);
        (void)co_await rpc("kill", name, k.id(), &shim::TaskModel::kill, k);
        taskv2::WaitRequest w;
        w.set_id(id);
        w.set_exec_id(target);
        (void)co_await rpc("wait", name, w.id(), &shim::TaskModel::wait, w);
      }
      taskv2::DeleteRequest d;
      d.set_id(id);
      d.set_exec_id(target);
      auto deleted = co_await rpc("delete", name, d.id(), &shim::TaskModel::remove, d);
      if (!deleted.ok() && target.empty() && !shimDied(id)) {
        failedCalls_.push_back("delete " + name + " failed: " + deleted.status().toString());
      }
    }
    co_await unplugNetwork(id);
  }

  Options options_;
  hcs_fake::FakeHost host_;
  runtime::Random rnd_;
  runtime::Random faultRnd_;
  unsigned faults_ = 0;
  runtime::TimePoint faultWindowEnd_{};
  runtime::TimePoint hangsEnd_{};  // when the last hung HCS operation completes
  std::unique_ptr<shim::testing::TestPlatform> platform_;
  std::unique_ptr<CheckingSink> sink_;
  std::vector<std::unique_ptr<ShimProcess>> shims_;  // every shim containerd started, the dead ones too
  ShimProcess* shim_ = nullptr;                     // the live one, which new tasks go to
  std::map<std::string, ShimProcess*> shimOf_;       // task -> the shim it went to
  int cleanups_ = 0;                                 // containerd's cleanups after dead shims, running
  int creates_ = 0;                                  // tasks created so far
  size_t shimsKilled_ = 0, tasksCleanedUp_ = 0;
  int deathAfterCreate_ = 0;                         // shim-death: the create after which the shim dies
  std::unique_ptr<hcs_fake::InProcessHns> hns_;
  std::unique_ptr<hns::HcnClient> hcn_;
  std::string networkId_;
  std::map<std::string, TaskNet> nets_;  // the networked tasks (CNI's view)
  std::map<ProcKey, ProcRecord> expected_;
  std::map<std::string, std::string> sandboxOf_;  // pod container -> its sandbox
  std::set<std::string> broken_;     // VMs that crashed or lost their bridge
  std::set<std::string> outputCut_;  // VMs with a stdio connection cut
  std::vector<std::string> injected_;
  std::vector<std::string> lateCalls_;
  std::map<uint64_t, std::string> inFlight_;  // calls not returned yet
  uint64_t nextCall_ = 0;
  std::vector<std::string> failedCalls_;  // legal calls that failed with nothing to blame
  runtime::Duration slowestCall_{};
  size_t lifecycles_ = 0;
};

}  // namespace

std::string_view faultName(Fault f) {
  unsigned i = static_cast<unsigned>(f);
  return i < kFaultCount ? kFaultNames[i] : "unknown";
}

bool parseFaultSet(std::string_view text, std::optional<unsigned>* out) {
  if (text == "swarm" || text == "none" || text == "all") {
    *out = text == "swarm" ? std::nullopt : std::optional<unsigned>(text == "all" ? kAllFaults : 0u);
    return true;
  }
  unsigned set = 0;
  for (bool more = true; more;) {
    size_t comma = text.find(',');
    more = comma != std::string_view::npos;
    std::string_view item = text.substr(0, comma);
    bool found = false;
    for (unsigned i = 0; i < kFaultCount; ++i) {
      if (kFaultNames[i] == item) {
        set |= 1u << i;
        found = true;
      }
    }
    if (!found) return false;  // unknown or empty
    if (more) text = text.substr(comma + 1);
  }
  *out = set;
  return true;
}

std::string faultList(unsigned faults) {
  std::string out;
  for (unsigned i = 0; i < kFaultCount; ++i) {
    if (!((faults >> i) & 1u)) continue;
    if (!out.empty()) out += ",";
    out += kFaultNames[i];
  }
  return out.empty() ? "none" : out;
}

Result run(const Options& options) {
  std::error_code ec;
  fs::remove_all(options.dir, ec);
  fs::create_directories(options.dir, ec);
  Run r(options);
  return r.run();
}

std::string replayCommand(const Options& options) {
  std::string cmd = "bazel run //sim:replay -- --seed=" + std::to_string(options.seed);
  if (options.actors != 3) cmd += " --actors=" + std::to_string(options.actors);
  if (options.generations != 2) cmd += " --generations=" + std::to_string(options.generations);
  if (options.faults) cmd += " --faults=" + faultList(*options.faults);
  for (unsigned i = 0; i < zoo::kBugCount; ++i) {
    if (zoo::reintroduced(static_cast<zoo::Bug>(i))) cmd += " --zoo=" + std::string(zoo::name(static_cast<zoo::Bug>(i)));
  }
  return cmd;
}

}  // namespace hcsshim::sim::campaign
