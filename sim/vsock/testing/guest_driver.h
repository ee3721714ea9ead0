// guest_driver.h: what QEMU and a guest's virtio-vsock driver do to a
// vhost-user-vsock backend, for tests: the vhost-user frontend messages
// (with a memfd as guest RAM and eventfds for kicks and calls), and the
// driver's side of the rx and tx split virtqueues in that memory.
//
// Memory map (guest physical = offset in the memfd; QEMU user address =
// kUserBase + offset): rx rings at 0x0, tx rings at 0x4000, 64 rx buffers of
// 4 KiB at 0x10000, 32 tx slots of 68 KiB at 0x100000.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/vsock/packet.h"
#include "src/common/status.h"
#include "src/runtime/unique_fd.h"

namespace hcsshim::vsock::testing {

class GuestDriver {
 public:
  static constexpr uint64_t kUserBase = 0x7f0000000000ull;
  static constexpr uint64_t kMemSize = 4 << 20;
  static constexpr uint16_t kQueueSize = 64;
  static constexpr uint32_t kRxBufferSize = 4096;

  GuestDriver();
  // connect to the backend's vhost-user socket.
  Status connect(const std::string& socketPath);
  // request sends one message; for requests with a reply (or need_reply),
  // returns the reply's payload.
  StatusOr<std::string> request(uint32_t req, const std::string& payload, std::vector<int> fds = {},
                                bool needReply = false);
  Status sendRaw(const std::string& bytes);
  // hungUp: the backend closed the connection (waits up to timeoutMs).
  bool hungUp(int timeoutMs);
  // bringUp: QEMU's realize + driver-ready sequence, then 64 rx buffers.
  Status bringUp();
  // resume: what QEMU sends when a paused VM runs again (rings at the bases
  // GET_VRING_BASE gave when they stopped, kick fds, enable).
  Status resume(uint16_t rxBase, uint16_t txBase);
  // replaceCallFds: new call eventfds for both rings while they run, as
  // QEMU sends whenever the guest masks or unmasks a queue's MSI-X vector.
  Status replaceCallFds();

  // send puts one packet (header descriptor + payload descriptor) on tx.
  void send(const Header& h, const std::string& payload = {});
  // receive: the next packet on rx (nullopt after timeoutMs); its buffer
  // is posted again.
  std::optional<Packet> receive(int timeoutMs = 5000);
  // receiveUntil: packets until one matches op (others are appended to `skipped`).
  std::optional<Packet> receiveOp(Op op, int timeoutMs = 5000, std::vector<Packet>* skipped = nullptr);
  // A header from the guest (CID 3) to the host (CID 2).
  static Header toHost(uint32_t guestPort, uint32_t hostPort, Op op, uint32_t bufAlloc = 256 * 1024,
                       uint32_t fwdCnt = 0);

  uint8_t* memory() { return mem_; }
  uint64_t txDescGpa() const { return kTxRing; }
  void kickTx();
  uint16_t txUsed() const;

  static constexpr uint64_t kRxRing = 0x0, kTxRing = 0x4000, kRxBuffers = 0x10000, kTxSlots = 0x100000;
  static constexpr uint64_t kTxSlotSize = 0x11000;

 private:
  uint64_t avail(uint64_t ring) const { return ring + 16 * kQueueSize; }
  uint64_t used(uint64_t ring) const { return ring + 0x1000; }
  void postRx(uint16_t desc);
  void setRing(uint32_t index, uint64_t ring, uint16_t base = 0);

  runtime::UniqueFd sock_, memfd_, kick_[2], call_[2];
  uint8_t* mem_ = nullptr;
  uint16_t rxAvail_ = 0, rxUsedSeen_ = 0, txAvail_ = 0;
};

}  // namespace hcsshim::vsock::testing
