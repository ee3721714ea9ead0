#include "src/ttrpc/client.h"

#include "src/common/log.h"
#include "src/ttrpc/ttrpc.pb.h"

namespace hcsshim::ttrpc {

using runtime::Task;

struct Client::State {
  runtime::Runtime& rt;
  std::unique_ptr<Channel> channel;
  std::string name;
  uint32_t nextStreamId = 1;
  std::map<uint32_t, runtime::Oneshot<StatusOr<std::string>>> pending;
  Status broken;  // set once the connection is unusable
};

namespace {

void failAll(Client::State& s, const Status& why) {
  if (s.broken.ok()) s.broken = why;
  auto pending = std::move(s.pending);
  s.pending.clear();
  for (auto& [id, done] : pending) done.set(why);
}

}  // namespace

Task<StatusOr<std::unique_ptr<Client>>> Client::connect(runtime::Runtime& rt, std::string address,
                                                        uint32_t maxMessageSize) {
  auto stream = co_await rt.transport().connect(address);
  if (!stream.ok()) co_return stream.status().withContext("ttrpc.connect", address);
  co_return std::make_unique<Client>(rt, std::move(*stream), maxMessageSize);
}

Client::Client(runtime::Runtime& rt, std::unique_ptr<runtime::Stream> stream, uint32_t maxMessageSize)
    : s_(std::make_shared<State>(State{rt, nullptr, stream->describe(), 1, {}, OkStatus()})) {
  s_->channel = std::make_unique<Channel>(std::move(stream), maxMessageSize);
  runtime::spawn(readLoop(s_));
}

Client::~Client() { close(); }

void Client::close() {
  if (!s_->broken.ok() && s_->channel->closed()) return;
  failAll(*s_, CancelledError("ttrpc: client closed"));
  s_->channel->close();
}

bool Client::closed() const { return !s_->broken.ok(); }
size_t Client::pendingCalls() const { return s_->pending.size(); }

Task<StatusOr<std::string>> Client::call(std::string service, std::string method, std::string payload,
                                         CallOptions options) {
  std::shared_ptr<State> s = s_;
  if (!s->broken.ok()) co_return s->broken;
  uint32_t id = s->nextStreamId;
  s->nextStreamId += 2;
  Request req;
  req.set_service(service);
  req.set_method(method);
  req.set_payload(std::move(payload));
  if (options.timeout) req.set_timeout_nano(options.timeout->count());
  for (auto& [k, v] : options.metadata) {
    auto* kv = req.add_metadata();
    kv->set_key(k);
    kv->set_value(v);
  }
  std::string frame;
  req.SerializeToString(&frame);
  runtime::Oneshot<StatusOr<std::string>> done;
  s->pending.emplace(id, done);
  Status sent = s->channel->send(id, MessageType::kRequest, 0, frame);
  if (!sent.ok()) {
    s->pending.erase(id);
    co_return sent.withContext(service + "/" + method, s->name);
  }
  runtime::TimerId timer = 0;
  if (options.timeout) {
    std::weak_ptr<State> weak = s;
    timer = s->rt.loop().addTimer(*options.timeout, [weak, id] {
      auto st = weak.lock();
      if (!st) return;
      auto it = st->pending.find(id);
      if (it == st->pending.end()) return;
      auto d = it->second;
      st->pending.erase(it);
      d.set(DeadlineExceededError("ttrpc: call deadline exceeded"));
    });
  }
  StatusOr<std::string> result = co_await done;
  if (timer) s->rt.loop().cancelTimer(timer);
  co_return result;
}

Task<void> Client::readLoop(std::shared_ptr<State> s) {
  for (;;) {
    auto frame = co_await s->channel->recv();
    if (!frame.ok()) {
      Status why = frame.status();
      if (!s->broken.ok()) break;  // closed by us
      Status err = !s->channel->writeError().ok() ? s->channel->writeError()
                   : runtime::isCleanEof(why)       ? UnavailableError("ttrpc: connection closed by peer")
                                                    : UnavailableError("ttrpc: connection failed: " + why.message());
      HLOG(Debug, "ttrpc.client.conn_closed").kv("conn", s->name).kv("pending", s->pending.size()).kv("err", why);
      s->channel->close();
      failAll(*s, err);
      break;
    }
    auto it = s->pending.find(frame->header.streamId);
    if (it == s->pending.end()) {
      // A late answer to a call that already timed out locally.
      HLOG(Debug, "ttrpc.client.unmatched_response").kv("conn", s->name).kv("stream", frame->header.streamId);
      continue;
    }
    auto done = it->second;
    s->pending.erase(it);
    if (frame->oversize) {
      done.set(ResourceExhaustedError("response length " + std::to_string(frame->header.length) +
                                      " exceeds maximum message size of " +
                                      std::to_string(s->channel->maxMessageSize())));
      continue;
    }
    if (frame->header.type != static_cast<uint8_t>(MessageType::kResponse)) {
      done.set(InternalError("ttrpc: unexpected message type " + std::to_string(frame->header.type)));
      continue;
    }
    Response resp;
    if (!resp.ParseFromString(frame->payload)) {
      done.set(InternalError("ttrpc: malformed response on stream " + std::to_string(frame->header.streamId)));
      continue;
    }
    if (resp.has_status() && resp.status().code() != 0) {
      done.set(statusFromRpc(resp.status()));
    } else {
      done.set(std::move(*resp.mutable_payload()));
    }
  }
}

}  // namespace hcsshim::ttrpc
