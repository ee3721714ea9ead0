// device.h: the virtio-vsock device's connections - the state machine
// between a guest's AF_VSOCK sockets and the host's hybrid vsock unix
// sockets (Firecracker's scheme, the one the sim backend serves):
//
//   guest connects to host port P   -> we connect to the unix socket <uds>_P
//                                      (RESPONSE if it answers, else RST)
//   a host process connects to <uds> and writes "CONNECT P\n"
//                                   -> we send REQUEST to guest port P; on
//                                      RESPONSE we answer "OK <host port>\n"
//                                      and the stream is the connection;
//                                      on RST (nothing listens) we hang up
//
// Per connection: credit-based flow control both ways (we never send the
// guest more than its buf_alloc allows; a guest that sends more than ours
// is reset), SHUTDOWN and RST as Linux's af_vsock expects (when both sides
// are done we send RST), CREDIT_REQUEST answered. Packets for unknown
// connections, of another type than STREAM, or from another CID than the
// guest's are answered with RST (never an RST with an RST).
//
// Single-threaded on the runtime's event loop; host streams through the
// runtime Transport, so it runs under simulation too. The guest side is a
// GuestLink: the vhost-user server's rx queue, or a test.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "sim/vsock/packet.h"
#include "src/runtime/event_loop.h"
#include "src/runtime/transport.h"

namespace hcsshim::vsock {

// GuestLink: packets towards the guest, delivered in order.
class GuestLink {
 public:
  virtual ~GuestLink() = default;
  virtual void sendToGuest(Packet p) = 0;
};

struct DeviceOptions {
  uint64_t guestCid = 3;
  std::string uds;                     // the hybrid vsock socket (host-initiated), <uds>_<port> (guest-initiated)
  uint32_t bufAlloc = 256 * 1024;      // our receive buffer per connection
  runtime::Duration connectTimeout = std::chrono::seconds(10);  // host-initiated: REQUEST -> RESPONSE
};

class VsockDevice {
 public:
  VsockDevice(runtime::EventLoop& loop, runtime::Transport& transport, GuestLink& guest, DeviceOptions options);
  ~VsockDevice();
  VsockDevice(const VsockDevice&) = delete;
  VsockDevice& operator=(const VsockDevice&) = delete;

  // start listens on options.uds for host-initiated connections.
  Status start();
  // onGuestPacket: a packet the guest sent (tx queue).
  void onGuestPacket(Packet p);
  // resetAll: the guest's driver went away (reset, poweroff): every
  // connection ends; host streams see EOF.
  void resetAll();
  size_t connections() const { return conns_.size(); }
  uint64_t guestCid() const { return options_.guestCid; }

 private:
  struct Conn;
  using Key = std::pair<uint32_t, uint32_t>;  // host port, guest port
  void send(Conn& c, Op op, uint32_t flags = 0, std::string payload = {});
  void sendRst(const Header& to);
  void reset(const std::shared_ptr<Conn>& c, const char* why);
  void drop(const std::shared_ptr<Conn>& c);
  void maybeFinish(const std::shared_ptr<Conn>& c);
  void established(const std::shared_ptr<Conn>& c);
  runtime::Task<void> acceptLoop();
  runtime::Task<void> hostHandshake(std::unique_ptr<runtime::Stream> s);
  runtime::Task<void> dialHost(std::shared_ptr<Conn> c);
  runtime::Task<void> hostToGuest(std::shared_ptr<Conn> c);
  runtime::Task<void> guestToHost(std::shared_ptr<Conn> c);
  uint32_t allocateHostPort();

  runtime::EventLoop& loop_;
  runtime::Transport& transport_;
  GuestLink& guest_;
  DeviceOptions options_;
  std::shared_ptr<runtime::Listener> listener_;
  std::map<Key, std::shared_ptr<Conn>> conns_;
  uint32_t nextHostPort_ = 0x80000000u;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hcsshim::vsock
