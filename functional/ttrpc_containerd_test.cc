// Interop: our ttrpc client talks to Debian's real containerd. A TaskExit
// event forwarded through containerd's shim-facing ttrpc endpoint
// (<grpc socket>.ttrpc, containerd.services.events.ttrpc.v1.Events/Forward)
// must come out of `ctr events` with its topic, namespace and fields.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "functional/harness/containerd.h"
#include "src/common/status_matchers.h"
#include "src/containerd/api/events.pb.h"
#include "src/containerd/api/events_ttrpc.pb.h"
#include "src/runtime/real_runtime.h"
#include "src/ttrpc/client.h"

namespace hcsshim::functional {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using runtime::Task;
using namespace std::chrono_literals;

constexpr char kEventsService[] = "containerd.services.events.ttrpc.v1.Events";

std::string fileContents(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Reads a process's stdout into `out` until EOF.
Task<void> collect(runtime::Stream* s, std::string& out, bool& eof) {
  char buf[4096];
  for (;;) {
    auto n = co_await s->read(buf);
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  eof = true;
}

containerd::services::events::ttrpc::v1::ForwardRequest taskExitRequest(const std::string& ns, int64_t nowNanos) {
  containerd::events::TaskExit exit;
  exit.set_container_id("hcs-ttrpc-interop");
  exit.set_id("hcs-ttrpc-interop");
  exit.set_pid(4242);
  exit.set_exit_status(7);
  exit.mutable_exited_at()->set_seconds(nowNanos / 1000000000);
  exit.mutable_exited_at()->set_nanos(static_cast<int32_t>(nowNanos % 1000000000));
  containerd::services::events::ttrpc::v1::ForwardRequest req;
  auto* env = req.mutable_envelope();
  env->mutable_timestamp()->set_seconds(nowNanos / 1000000000);
  env->set_namespace_(ns);
  env->set_topic("/tasks/exit");
  // The Any type_url is the bare message name (no type.googleapis.com/ prefix).
  env->mutable_event()->set_type_url("containerd.events.TaskExit");
  env->mutable_event()->set_value(exit.SerializeAsString());
  return req;
}

class ContainerdTtrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (containerd)";
    ASSERT_TRUE(ContainerdInstance::binaryAvailable()) << "containerd is not installed: run tools/setup";
    rt_ = std::move(*runtime::RealRuntime::create("ttrpc-interop"));
    auto inst = runtime::blockOn(rt_->loop(), ContainerdInstance::start(*rt_, {}));
    ASSERT_THAT(inst, IsOk());
    ctd_ = std::move(*inst);
  }
  void TearDown() override {
    if (ctd_) {
      if (HasFailure()) std::cerr << "containerd log:\n" << fileContents(ctd_->logPath());
      EXPECT_THAT(runtime::blockOn(rt_->loop(), ctd_->stop()), IsOk());
    }
  }
  std::unique_ptr<runtime::RealRuntime> rt_;
  std::unique_ptr<ContainerdInstance> ctd_;
};

TEST_F(ContainerdTtrpcTest, ForwardedTaskExitShowsUpInCtrEvents) {
  auto events = ctd_->ctr({"events"}, /*pipeStdout=*/true);
  ASSERT_THAT(events, IsOk());
  std::string out;
  bool eof = false;
  runtime::spawn(collect((*events)->stdoutStream(), out, eof));

  auto client = runtime::blockOn(rt_->loop(), ttrpc::Client::connect(*rt_, "unix://" + ctd_->ttrpcAddress()));
  ASSERT_THAT(client, IsOk());
  const std::string ns = "hcs-test";
  ttrpc::CallOptions opts;
  opts.timeout = 5s;
  opts.metadata = {{"containerd-namespace-ttrpc", ns}};

  // `ctr events` subscribes asynchronously: forward until the event shows up
  // (each forward must itself succeed), at most for 15 s.
  int forwards = 0;
  runtime::TimePoint deadline = rt_->loop().now() + 15s;
  while (out.find("hcs-ttrpc-interop") == std::string::npos && rt_->loop().now() < deadline && !eof) {
    auto req = taskExitRequest(ns, rt_->loop().clock().wallNanos());
    auto r = runtime::blockOn(rt_->loop(), (*client)->call(kEventsService, "Forward", req.SerializeAsString(), opts));
    ASSERT_THAT(r, IsOk()) << "Forward #" << forwards;
    EXPECT_TRUE(r->empty()) << "Forward returns google.protobuf.Empty";
    ++forwards;
    bool tick = false;
    rt_->loop().addTimer(200ms, [&] { tick = true; });
    rt_->loop().runUntil([&] { return tick; });
  }
  ASSERT_NE(out.find("hcs-ttrpc-interop"), std::string::npos) << "ctr events printed:\n" << out;

  // One line: "<time> <namespace> <topic> <event as JSON>".
  std::string line;
  std::istringstream lines(out);
  while (std::getline(lines, line)) {
    if (line.find("hcs-ttrpc-interop") != std::string::npos) break;
  }
  std::cout << "forwards=" << forwards << " ctr events line: " << line << "\n";
  EXPECT_THAT(line, ::testing::HasSubstr(" " + ns + " /tasks/exit "));
  EXPECT_THAT(line, ::testing::HasSubstr("\"container_id\":\"hcs-ttrpc-interop\""));
  EXPECT_THAT(line, ::testing::HasSubstr("\"pid\":4242"));
  EXPECT_THAT(line, ::testing::HasSubstr("\"exit_status\":7"));

  // Protocol errors from the real server keep their ttrpc codes.
  auto unknown = runtime::blockOn(rt_->loop(), (*client)->call(kEventsService, "NoSuchMethod", "", opts));
  EXPECT_THAT(unknown, StatusIs(Code::kUnimplemented));
  auto garbage = runtime::blockOn(rt_->loop(), (*client)->call(kEventsService, "Forward", "\xff\xff", opts));
  EXPECT_FALSE(garbage.ok());
  std::cout << "garbage payload: " << garbage.status() << "\n";
  // containerd answers an undecodable payload with Internal (13), as our server does.
  EXPECT_THAT(garbage, StatusIs(Code::kInternal, "error unmarshalling payload"));

  (*client)->close();
  ASSERT_THAT((*events)->signal(SIGTERM), IsOk());
  runtime::blockOn(rt_->loop(), (*events)->wait());
  rt_->loop().runUntil([&] { return eof; });
}

}  // namespace
}  // namespace hcsshim::functional
