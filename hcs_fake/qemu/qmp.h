// qmp.h: a client of QEMU's machine protocol (QMP) over its unix socket.
//
// Wire: one JSON object per line. QEMU greets with {"QMP":{...}}; the
// client must send {"execute":"qmp_capabilities"} first. Commands
// {"execute":C,"arguments":A,"id":N} are answered {"return":R,"id":N} or
// {"error":{"class":K,"desc":D},"id":N}; events {"event":E,"data":...,
// "timestamp":...} interleave. When the socket closes (QEMU exited) every
// pending command fails with Unavailable and onClose runs.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "src/common/json.h"
#include "src/common/status.h"
#include "src/runtime/event_loop.h"
#include "src/runtime/transport.h"

namespace hcsshim::hcs_fake {

class QmpClient {
 public:
  // connect: dials `path` (retrying while QEMU has not created it yet, up
  // to `timeout`, or until `gone()` says QEMU exited), reads the greeting
  // and negotiates capabilities.
  static runtime::Task<StatusOr<std::shared_ptr<QmpClient>>> connect(runtime::EventLoop& loop,
                                                                      runtime::Transport& transport, std::string path,
                                                                      runtime::Duration timeout,
                                                                      std::function<bool()> gone = nullptr);
  ~QmpClient();

  // execute: a command's "return" value, or the error QEMU gave
  // (FailedPrecondition, "class: desc"), or Unavailable once QEMU is gone.
  runtime::Task<StatusOr<Json>> execute(std::string command, Json arguments = Json::object());
  // waitEvent: the data of the next event named `name` (seen from now on).
  runtime::Task<StatusOr<Json>> waitEvent(std::string name, runtime::Duration timeout);

  void setOnEvent(std::function<void(const std::string&, const Json&)> fn) { onEvent_ = std::move(fn); }
  void setOnClose(std::function<void()> fn) { onClose_ = std::move(fn); }
  bool closed() const { return closed_; }
  void close();
  std::string version() const { return version_; }

 private:
  QmpClient(runtime::EventLoop& loop, std::unique_ptr<runtime::Stream> s) : loop_(loop), stream_(std::move(s)) {}
  runtime::Task<StatusOr<std::string>> readLine();
  runtime::Task<void> readLoop(std::shared_ptr<QmpClient> self);
  void dispatch(const Json& msg);
  void failAll();

  runtime::EventLoop& loop_;
  std::unique_ptr<runtime::Stream> stream_;
  std::string buffer_;
  uint64_t nextId_ = 1;
  std::map<uint64_t, runtime::Oneshot<StatusOr<Json>>> pending_;
  std::multimap<std::string, runtime::Oneshot<StatusOr<Json>>> eventWaiters_;
  std::function<void(const std::string&, const Json&)> onEvent_;
  std::function<void()> onClose_;
  bool closed_ = false;
  std::string version_;
};

}  // namespace hcsshim::hcs_fake
