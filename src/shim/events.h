// events.h: task events to containerd (ttrpc Forward to TTRPC_ADDRESS), in
// the order they are published.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include <google/protobuf/message_lite.h>

#include "src/runtime/runtime.h"
#include "src/ttrpc/client.h"

namespace hcsshim::shim {

class Publisher {
 public:
  // address: containerd's ttrpc socket ("" = events are only logged).
  Publisher(runtime::Runtime& rt, std::string address, std::string ns);
  // publish queues topic + event; they are forwarded one at a time, in order.
  void publish(const std::string& topic, const google::protobuf::MessageLite& event);
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
