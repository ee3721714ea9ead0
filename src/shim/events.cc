#include "src/shim/events.h"

#include "src/common/log.h"
#include "src/containerd/api/events_ttrpc.pb.h"

namespace hcsshim::shim {

using runtime::Task;

Publisher::Publisher(runtime::Runtime& rt, std::string address, std::string ns)
    : rt_(rt), address_(std::move(address)), ns_(std::move(ns)) {}

void Publisher::publish(const std::string& topic, const pb::MessageLite& event) {
  queue_.push_back(Item{topic, event.GetTypeName(), event.SerializeAsString(),
                        rt_.loop().clock().wallNanos()});
  HLOG(Info, "shim.event").kv("topic", topic).kv("type", event.GetTypeName());
  if (!draining_) {
    draining_ = true;
    runtime::spawn(drain());
  }
}

Task<void> Publisher::drain() {
  while (!queue_.empty()) {
    Item item = queue_.front();
    queue_.pop_front();
    if (address_.empty()) continue;
    if (!client_ || client_->closed()) {
      auto c = co_await ttrpc::Client::connect(rt_, address_);
      if (!c.ok()) {
        HLOG(Warn, "shim.event.undelivered").kv("topic", item.topic).kv("error", c.status().toString());
        continue;
      }
      client_ = std::move(*c);
    }
    containerd::services::events::ttrpc::v1::ForwardRequest req;
    auto* env = req.mutable_envelope();
    env->mutable_timestamp()->set_seconds(item.nanos / 1000000000);
    env->mutable_timestamp()->set_nanos(static_cast<int32_t>(item.nanos % 1000000000));
    env->set_namespace_(ns_);
    env->set_topic(item.topic);
    env->mutable_event()->set_type_url(item.typeUrl);
    env->mutable_event()->set_value(item.value);
    ttrpc::CallOptions opts;
    opts.timeout = std::chrono::seconds(5);
    opts.metadata = {{"containerd-namespace-ttrpc", ns_}};
    auto r = co_await client_->call("containerd.services.events.ttrpc.v1.Events", "Forward", req.SerializeAsString(),
                                    opts);
    if (!r.ok()) HLOG(Warn, "shim.event.undelivered").kv("topic", item.topic).kv("error", r.status().toString());
  }
  draining_ = false;
  idle_.notifyAll();
}

Task<void> Publisher::flushed() {
  while (draining_) co_await idle_.wait();
}

}  // namespace hcsshim::shim
