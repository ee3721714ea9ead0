// server.h: the vhost-user-vsock backend process's I/O - the vhost-user
// socket QEMU connects to (`-chardev socket,path=P -device
// vhost-user-vsock-pci,chardev=...`), the queues' kick and call eventfds,
// and the packets between the virtqueues and the VsockDevice.
//
// tx (queue 1): each chain is a header and its payload, possibly spread over
// several readable descriptors; rx (queue 0): the guest posts writable
// chains (Linux: 4 KiB each) and a packet larger than a chain is split into
// several RW packets (a stream has no message boundaries). Packets wait for
// rx buffers in order; how much data can wait is bounded by the guest's
// credit per connection.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "sim/vsock/device.h"
#include "sim/vsock/vhost_user.h"
#include "src/runtime/epoll_loop.h"

namespace hcsshim::vsock {

struct ServerOptions {
  std::string socketPath;  // the vhost-user socket we listen on
  DeviceOptions device;
};

class VhostUserVsockServer final : public GuestLink {
 public:
  static StatusOr<std::unique_ptr<VhostUserVsockServer>> create(runtime::EpollEventLoop& loop,
                                                                runtime::Transport& transport, ServerOptions options);
  ~VhostUserVsockServer() override;

  // serve accepts QEMU's connection and serves it until QEMU hangs up (OK)
  // or the protocol breaks (the error).
  runtime::Task<Status> serve();
  void sendToGuest(Packet p) override;
  VsockDevice& device() { return *device_; }
  VhostUserBackend& backend() { return backend_; }
  uint64_t packetsFromGuest() const { return fromGuest_; }
  uint64_t packetsToGuest() const { return toGuest_; }

 private:
  VhostUserVsockServer(runtime::EpollEventLoop& loop, runtime::Transport& transport, ServerOptions options);
  runtime::Task<StatusOr<bool>> readExactly(char* buf, size_t n, std::vector<runtime::UniqueFd>* fds);
  runtime::Task<Status> writeAll(const std::string& data);
  void onQueueChange(int q);
  runtime::Task<void> kickLoop(int q, uint64_t generation, std::shared_ptr<runtime::FdWatch> watch);
  void processTx();
  void deliverRx();
  void notify(int q);

  runtime::EpollEventLoop& loop_;
  ServerOptions options_;
  VhostUserBackend backend_;
  std::unique_ptr<VsockDevice> device_;
  runtime::UniqueFd listenFd_, connFd_;
  std::shared_ptr<runtime::FdWatch> listenWatch_, connWatch_;
  std::shared_ptr<runtime::FdWatch> kickWatch_[kVhostQueues];
  uint64_t kickGeneration_[kVhostQueues] = {0, 0};
  std::deque<Packet> pending_;
  size_t frontOffset_ = 0;  // payload bytes of pending_.front() already delivered
  uint64_t fromGuest_ = 0, toGuest_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hcsshim::vsock
