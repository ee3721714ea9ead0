// sim_platform.h: the shim's platform for tests on the simulator - stdio
// into memory by URI, mounts recorded, VMs from the in-process guest
// backend - and an event sink that records containerd's events in order.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "hcs_fake/testing/in_process_guest.h"
#include "src/containerd/api/events.pb.h"
#include "src/shim/platform.h"
#include "src/shim/task_model.h"

namespace hcsshim::shim::testing {

// Output streams that collect what a process wrote, by URI; input streams
// that give what a test put in `inputs`, then end.
class MemoryStdio final : public StdioEndpoints {
 public:
  class Source final : public runtime::Stream {
   public:
    explicit Source(std::string data) : data_(std::move(data)) {}
    runtime::Task<StatusOr<size_t>> read(std::span<char> buf) override {
      size_t n = std::min(buf.size(), data_.size() - offset_);
      std::copy_n(data_.data() + offset_, n, buf.data());
      offset_ += n;
      co_return n;
    }
    runtime::Task<Status> write(std::string_view) override { co_return UnimplementedError("read-only"); }
    Status shutdownWrite() override { return OkStatus(); }
    void close() override {}
    StatusOr<runtime::PeerCredentials> peerCredentials() const override { return UnimplementedError("memory"); }
    std::string describe() const override { return "memory input"; }

   private:
    std::string data_;
    size_t offset_ = 0;
  };
  class Sink final : public runtime::Stream {
   public:
    explicit Sink(std::string* out) : out_(out) {}
    runtime::Task<StatusOr<size_t>> read(std::span<char>) override { co_return UnimplementedError("write-only"); }
    runtime::Task<Status> write(std::string_view data) override {
      out_->append(data);
      co_return OkStatus();
    }
    Status shutdownWrite() override { return OkStatus(); }
    void close() override {}
    StatusOr<runtime::PeerCredentials> peerCredentials() const override { return UnimplementedError("memory"); }
    std::string describe() const override { return "memory"; }

   private:
    std::string* out_;
  };
  Status checkOutputUris(const std::string&, const std::string& err) override {
    if (err == "bad://") return InvalidArgumentError("stdio bad://: no such scheme");
    return OkStatus();
  }
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openOutput(std::string uri) override {
    co_return std::unique_ptr<runtime::Stream>(new Sink(&written[uri]));
  }
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openInput(std::string uri) override {
    auto it = inputs.find(uri);
    if (it == inputs.end()) co_return NotFoundError("no such input: " + uri);
    co_return std::unique_ptr<runtime::Stream>(new Source(it->second));
  }
  runtime::Task<StatusOr<LoggerStreams>> startBinaryLogger(BinaryLoggerOptions o) override {
    co_return UnimplementedError("no loggers here: " + o.uri);
  }
  std::map<std::string, std::string> written;
  std::map<std::string, std::string> inputs;
};

class NoMounts final : public RootfsMounter {
 public:
  Status mount(const Mounts&, const std::string& target) override {
    mounted.insert(target);
    return OkStatus();
  }
  void unmount(const std::string& target) override { mounted.erase(target); }
  std::set<std::string> mounted;
};

class TestPlatform final : public ShimPlatform {
 public:
  explicit TestPlatform(hcs_fake::InProcessGuestBackend& guests) : guests_(guests) {}
  std::unique_ptr<bridge::VsockHost> vsockFor(const std::string& vmId) override { return guests_.vsockFor(vmId); }
  runtime::Task<StatusOr<std::unique_ptr<hns::HnsApi>>> connectHns() override {
    if (!hns) co_return UnimplementedError("no HNS here");
    co_return hns();
  }
  // hns: how this host reaches HNS (unset: it has none).
  std::function<std::unique_ptr<hns::HnsApi>()> hns;
  StdioEndpoints& stdio() override { return stdio_; }
  RootfsMounter& rootfs() override { return mounts_; }
  MemoryStdio stdio_;
  NoMounts mounts_;

 private:
  hcs_fake::InProcessGuestBackend& guests_;
};

// The events in order: topic and, for exits, "exit <id> <status>".
class RecordingSink final : public EventSink {
 public:
  void publish(const std::string& topic, const pb::MessageLite& event) override {
    if (topic == "/tasks/exit") {
      containerd::events::TaskExit e;
      e.ParseFromString(event.SerializeAsString());
      events.push_back("exit " + e.id() + " " + std::to_string(e.exit_status()));
    } else {
      events.push_back(topic);
    }
  }
  std::vector<std::string> events;
};


}  // namespace hcsshim::shim::testing
