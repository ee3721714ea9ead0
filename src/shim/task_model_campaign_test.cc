// A seeded campaign over the whole stack in one simulated world: the shim's
// task model, the in-process fake HCS, each task's utility VM with the real
// bridge and guest agent (a fake container runtime with runc's behaviour),
// on virtual time. Several actors play containerd concurrently - create,
// start, exec, kill, wait, pause/resume, pids, state, delete in legal and
// illegal orders - and checkers hold the run to containerd's rules:
//   - every started process reports exactly one exit, a never-started one
//     none, and nothing is reported for a task after its delete;
//   - a task's events keep containerd's order (create, start, ..., delete);
//   - an exit status is the program's own or 128 + a signal it was sent;
//   - an echo's output is complete when its exit is reported;
//   - every call returns (virtual-time bound) and the world ends with no VM.
// Seeds: HCS_SIM_SEED replays one; otherwise 16 batches of
// HCS_CAMPAIGN_SEEDS seeds (default 3) from 1000, spread over the shards. A
// failure prints its replay command.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "hcs_fake/testing/fake_host.h"
#include "sim/node.h"
#include "sim/run.h"
#include "sim/world.h"
#include "src/common/log.h"
#include "src/containerd/api/events.pb.h"
#include "src/runtime/random.h"
#include "src/shim/task_model.h"
#include "src/shim/testing/sim_platform.h"

namespace hcsshim::shim {
namespace {

using runtime::Task;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// What one process is: its program, the signals it was sent, whether it
// started, and the exits reported for it.
struct ProcRecord {
  std::vector<std::string> args;
  std::set<int> signals;
  bool started = false;
  std::vector<uint32_t> exits;
  std::string outputAtExit;
};

// The events, checked as they come.
class CheckingSink final : public EventSink {
 public:
  explicit CheckingSink(testing::MemoryStdio& stdio) : stdio_(stdio) {}
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
  std::map<std::pair<std::string, std::string>, ProcRecord> procs;  // (task, exec) -> what was reported
  std::map<std::string, std::vector<std::string>> order;
  std::vector<std::string> violations;

 private:
  testing::MemoryStdio& stdio_;
};

// Programs of the fake runtime (gcs/testing/fake_runtime.h) and what they exit with.
std::vector<std::string> program(runtime::Random& rnd, const std::string& tag) {
  switch (rnd.uniform(5)) {
    case 0: return {"echo", tag};
    case 1: return {"exit", std::to_string(rnd.uniform(7))};
    case 2: return {"true"};
    case 3: return {"false"};
    default: return {"sleep"};
  }
}

std::optional<uint32_t> ownExit(const std::vector<std::string>& args) {
  if (args[0] == "echo" || args[0] == "true") return 0;
  if (args[0] == "false") return 1;
  if (args[0] == "exit") return static_cast<uint32_t>(std::stoul(args[1]));
  return std::nullopt;  // sleep: only a signal ends it
}

class Campaign {
 public:
  explicit Campaign(uint64_t seed) : seed_(seed), host_(seed), rnd_(seed ^ 0x5eed5eedULL) {
    platform_ = std::make_unique<testing::TestPlatform>(*host_.guests);
    sink_ = std::make_unique<CheckingSink>(platform_->stdio_);
    model_ = std::make_unique<TaskModel>(host_.node, *host_.api, *sink_, *platform_,
                                         ShimConfig{.ns = "default", .defaultBootFiles = host_.dir + "/boot"});
  }

  // trace: the world's event trace (the same seed, the same trace).
  std::string trace() const { return host_.world.traceText(); }
  // exitsReported: over the run (the campaign must exercise something).
  size_t exitsReported() const {
    size_t n = 0;
    for (const auto& [k, p] : sink_->procs) n += p.exits.size();
    return n;
  }

  // run: the actors, then the checks; "" when every rule held.
  std::string run(int actors, int generations) {
    int done = 0;
    for (int a = 0; a < actors; ++a) runtime::spawn(actor(a, generations, done));
    bool finished = host_.world.runUntil([&] { return done == actors; });
    std::ostringstream why;
    if (!finished) why << "liveness: " << (actors - done) << " actors never finished (a call did not return)\n";
    for (const auto& v : sink_->violations) why << "order: " << v << "\n";
    for (const auto& [key, p] : expected_) {
      auto it = sink_->procs.find(key);
      const std::vector<uint32_t> none;
      const auto& exits = it == sink_->procs.end() ? none : it->second.exits;
      std::string name = key.first + (key.second.empty() ? "" : "/" + key.second);
      if (!p.started) {
        if (!exits.empty()) why << "exit reported for " << name << ", which never started\n";
        continue;
      }
      if (exits.size() != 1) {
        why << name << " reported " << exits.size() << " exits\n";
        continue;
      }
      uint32_t got = exits[0];
      auto own = ownExit(p.args);
      bool bySignal = got > 128 && p.signals.count(static_cast<int>(got - 128));
      if (!(own && got == *own) && !bySignal) why << name << " exited " << got << ", which its program cannot\n";
      if (p.args[0] == "echo" && own && got == *own && it->second.outputAtExit != p.args[1] + "\n") {
        why << name << "'s exit came before its output (\"" << it->second.outputAtExit << "\")\n";
      }
    }
    for (const auto& [task, seq] : sink_->order) {
      if (seq.empty() || seq.back() != "/tasks/delete") why << task << " was never deleted\n";
    }
    if (finished) {
      sim::run(host_.world, model_->closeAll());
      host_.world.runFor(5s);
      if (host_.guests->running() != 0) why << host_.guests->running() << " VMs outlived their tasks\n";
    }
    return why.str();
  }

 private:
  // One actor: `generations` tasks, one after the other, each with a fresh id.
  Task<void> actor(int a, int generations, int& done) {
    runtime::Random rnd(rnd_.next());
    for (int g = 0; g < generations; ++g) {
      std::string id = "s" + std::to_string(seed_) + "-a" + std::to_string(a) + "-g" + std::to_string(g);
      co_await lifecycle(id, rnd);
    }
    ++done;
  }

  Task<void> pauseFor(runtime::Random& rnd) {
    co_await runtime::sleep(host_.node.loop(), std::chrono::milliseconds(rnd.uniform(50)));
  }

  Task<void> lifecycle(std::string id, runtime::Random& rnd) {
    std::vector<std::string> args = program(rnd, "out-" + id);
    std::string b = host_.dir + "/bundles/" + id;
    fs::create_directories(b + "/rootfs");
    Json spec = {{"ociVersion", "1.0.2"}, {"process", {{"args", args}, {"cwd", "/"}}}, {"root", {{"path", "rootfs"}}},
                 {"linux", Json::object()}};
    std::ofstream(b + "/config.json") << jsonText(spec);
    taskv2::CreateTaskRequest create;
    create.set_id(id);
    create.set_bundle(b);
    create.set_stdout("mem://" + id);
    auto created = co_await model_->create(create);
    if (!created.ok()) co_return;  // refused: nothing to clean up
    ProcRecord& init = expected_[{id, ""}];
    init.args = args;
    co_await pauseFor(rnd);
    taskv2::StartRequest start;
    start.set_id(id);
    if (rnd.chance(0.9)) {
      auto started = co_await model_->start(start);
      init.started = started.ok();
    }
    int ops = static_cast<int>(rnd.uniform(6));
    std::vector<std::string> execs;
    for (int i = 0; i < ops; ++i) {
      co_await pauseFor(rnd);
      switch (rnd.uniform(5)) {
        case 0: {  // an exec, usually started
          std::string execId = "e" + std::to_string(i);
          std::vector<std::string> eargs = program(rnd, "out-" + id + "-" + execId);
          taskv2::ExecProcessRequest req;
          req.set_id(id);
          req.set_exec_id(execId);
          req.set_stdout("mem://" + id + "/" + execId);
          req.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
          req.mutable_spec()->set_value(jsonText(Json{{"args", eargs}, {"cwd", "/"}}));
          auto added = co_await model_->exec(req);
          if (!added.ok()) break;
          execs.push_back(execId);
          ProcRecord& p = expected_[{id, execId}];
          p.args = eargs;
          if (rnd.chance(0.8)) {
            taskv2::StartRequest es;
            es.set_id(id);
            es.set_exec_id(execId);
            auto started = co_await model_->start(es);
            p.started = started.ok();
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
          auto killed = co_await model_->kill(k);
          if (killed.ok()) expected_[{id, target}].signals.insert(sig);
          break;
        }
        case 2: {  // pause, a while, resume
          taskv2::PauseRequest p;
          p.set_id(id);
          auto paused = co_await model_->pause(p);
          co_await pauseFor(rnd);
          taskv2::ResumeRequest r;
          r.set_id(id);
          if (paused.ok()) (void)co_await model_->resume(r);
          break;
        }
        case 3: {
          taskv2::PidsRequest p;
          p.set_id(id);
          (void)co_await model_->pids(p);
          break;
        }
        default: {
          taskv2::StateRequest s;
          s.set_id(id);
          (void)co_await model_->state(s);
          break;
        }
      }
    }
    // The end of every generation: everything killed, waited and deleted
    // (as containerd does for `ctr run --rm`).
    std::vector<std::string> targets = execs;
    targets.push_back("");
    for (const std::string& target : targets) {
      ProcRecord& p = expected_[{id, target}];
      if (p.started) {
        taskv2::KillRequest k;
        k.set_id(id);
        k.set_exec_id(target);
        k.set_signal(SIGKILL);
        auto killed = co_await model_->kill(k);
        if (killed.ok()) p.signals.insert(SIGKILL);
        taskv2::WaitRequest w;
        w.set_id(id);
        w.set_exec_id(target);
        (void)co_await model_->wait(w);
      }
      taskv2::DeleteRequest d;
      d.set_id(id);
      d.set_exec_id(target);
      (void)co_await model_->remove(d);
    }
  }

  uint64_t seed_;
  hcs_fake::FakeHost host_;
  runtime::Random rnd_;
  std::unique_ptr<testing::TestPlatform> platform_;
  std::unique_ptr<CheckingSink> sink_;
  std::unique_ptr<TaskModel> model_;
  std::map<std::pair<std::string, std::string>, ProcRecord> expected_;
};

// The seeds in batches, as test instances: gtest spreads the instances over
// the Bazel shards (shard_count), so more shards run more seeds at once.
class TaskModelCampaign : public ::testing::TestWithParam<int> {};

TEST_P(TaskModelCampaign, SeededConcurrentLifecyclesKeepContainerdsRules) {
  std::vector<uint64_t> seeds;
  if (const char* one = getenv("HCS_SIM_SEED")) {
    if (GetParam() != 0) GTEST_SKIP() << "replaying one seed (batch 0)";
    seeds.push_back(std::strtoull(one, nullptr, 10));
  } else {
    uint64_t perBatch = 3;
    if (const char* n = getenv("HCS_CAMPAIGN_SEEDS")) perBatch = std::strtoull(n, nullptr, 10);
    for (uint64_t i = 0; i < perBatch; ++i) seeds.push_back(1000 + static_cast<uint64_t>(GetParam()) * perBatch + i);
  }
  log::setLevel(LogLevel::kWarn);  // a campaign's runs would log every event
  size_t exits = 0;
  for (uint64_t seed : seeds) {
    std::string why;
    {
      Campaign c(seed);
      why = c.run(/*actors=*/3, /*generations=*/2);
      exits += c.exitsReported();
    }
    EXPECT_EQ(why, "") << "seed " << seed << "; replay: bazel test //src/shim:task_model_campaign_test --test_env=HCS_SIM_SEED="
                       << seed;
  }
  EXPECT_GE(exits, seeds.size() * 3) << "the workload ran processes to their exits";
}

INSTANTIATE_TEST_SUITE_P(Batches, TaskModelCampaign, ::testing::Range(0, 16));

// Determinism: a seed run twice gives the same trace, byte for byte (what
// makes HCS_SIM_SEED a replay).
TEST(TaskModelCampaignDeterminism, ASeedRunTwiceGivesTheSameTrace) {
  log::setLevel(LogLevel::kWarn);
  uint64_t seed = sim::seedFromEnv(4242);
  std::string first, second;
  {
    Campaign c(seed);
    (void)c.run(3, 2);
    first = c.trace();
  }
  {
    Campaign c(seed);
    (void)c.run(3, 2);
    second = c.trace();
  }
  EXPECT_FALSE(first.empty());
  EXPECT_TRUE(first == second) << "seed " << seed << ": " << first.size() << " vs " << second.size() << " bytes of trace";
}

}  // namespace
}  // namespace hcsshim::shim
