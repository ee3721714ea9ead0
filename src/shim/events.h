// events.h: task events (TaskCreate, TaskStart, TaskExit, ...) in the order
// they happen. The task model publishes to an EventSink; the shim's is a
// Publisher (ttrpc Forward to containerd's TTRPC_ADDRESS), a test's records.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "src/protobuf/api.h"

#include "src/runtime/runtime.h"
#include "src/ttrpc/client.h"

namespace hcsshim::shim {

// EventSink: where the task model's events go, in order.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // publish: topic is containerd's ("/tasks/exit"), event its message.
  virtual void publish(const std::string& topic, const pb::MessageLite& event) = 0;
};

class Publisher final : public EventSink {
 public:
  // address: containerd's ttrpc socket ("" = events are only logged).
  Publisher(runtime::Runtime& rt, std::string address, std::string ns);
  // publish queues topic + event; they are forwarded one at a time, in order.
  void publish(const std::string& topic, const pb::MessageLite& event) override;
  // flushed completes when everything queued so far was forwarded (or failed).
  runtime::Task<void> flushed();

 private:
  runtime::Task<void> drain();
  runtime::Runtime& rt_;
  std::string address_, ns_;
  std::unique_ptr<ttrpc::Client> client_;
  struct Item {
    std::string topic, typeUrl, value;
    int64_t nanos;
  };
  std::deque<Item> queue_;
  bool draining_ = false;
  runtime::WaitList idle_;
};

}  // namespace hcsshim::shim
