#include "sim/vsock/vhost_user.h"

#include <cstring>

namespace hcsshim::vsock {

namespace {

constexpr uint32_t kVersion = 0x1, kReply = 0x4, kNeedReply = 0x8;
constexpr uint64_t kVringNoFd = 0x100;

template <typename T>
T get(const std::string& p, size_t off) {
  T v;
  std::memcpy(&v, p.data() + off, sizeof v);
  return v;
}

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string replyOf(uint32_t request, const std::string& payload) {
  std::string r;
  put<uint32_t>(r, request);
  put<uint32_t>(r, kVersion | kReply);
  put<uint32_t>(r, static_cast<uint32_t>(payload.size()));
  return r + payload;
}

std::string u64(uint64_t v) {
  std::string s;
  put(s, v);
  return s;
}

}  // namespace

const char* vhostRequestName(uint32_t r) {
  switch (r) {
    case kGetFeatures: return "GET_FEATURES";
    case kSetFeatures: return "SET_FEATURES";
    case kSetOwner: return "SET_OWNER";
    case kResetOwner: return "RESET_OWNER";
    case kSetMemTable: return "SET_MEM_TABLE";
    case kSetVringNum: return "SET_VRING_NUM";
    case kSetVringAddr: return "SET_VRING_ADDR";
    case kSetVringBase: return "SET_VRING_BASE";
    case kGetVringBase: return "GET_VRING_BASE";
    case kSetVringKick: return "SET_VRING_KICK";
    case kSetVringCall: return "SET_VRING_CALL";
    case kSetVringErr: return "SET_VRING_ERR";
    case kGetProtocolFeatures: return "GET_PROTOCOL_FEATURES";
    case kSetProtocolFeatures: return "SET_PROTOCOL_FEATURES";
    case kGetQueueNum: return "GET_QUEUE_NUM";
    case kSetVringEnable: return "SET_VRING_ENABLE";
    case kGetConfig: return "GET_CONFIG";
    case kSetConfig: return "SET_CONFIG";
  }
  return "UNKNOWN";
}

StatusOr<VhostMessage> parseVhostHeader(std::string_view h, uint32_t* size) {
  if (h.size() != kVhostHeaderSize) return InvalidArgumentError("vhost-user header: want 12 bytes");
  VhostMessage m;
  std::memcpy(&m.request, h.data(), 4);
  std::memcpy(&m.flags, h.data() + 4, 4);
  std::memcpy(size, h.data() + 8, 4);
  if ((m.flags & 0x3) != kVersion) {
    return InvalidArgumentError("vhost-user " + std::string(vhostRequestName(m.request)) + ": version " +
                                std::to_string(m.flags & 0x3) + ", want 1");
  }
  if (*size > kVhostMaxPayload) {
    return InvalidArgumentError("vhost-user " + std::string(vhostRequestName(m.request)) + ": payload of " +
                                std::to_string(*size) + " bytes exceeds " + std::to_string(kVhostMaxPayload));
  }
  return m;
}

Status VhostUserBackend::queueIndex(const std::string& p, size_t want, uint32_t* index, bool fdForm) {
  if (p.size() != want) {
    return InvalidArgumentError("payload is " + std::to_string(p.size()) + " bytes, want " + std::to_string(want));
  }
  // A vring state or address starts with a u32 index; a kick/call/err
  // payload is a u64 whose low byte is the index.
  uint32_t i = fdForm ? static_cast<uint32_t>(get<uint64_t>(p, 0) & 0xff) : get<uint32_t>(p, 0);
  if (i >= kVhostQueues) return InvalidArgumentError("queue " + std::to_string(i) + " is not one of ours (0, 1)");
  *index = i;
  return OkStatus();
}

void VhostUserBackend::update(int i) {
  Vring& v = vrings_[i];
  // A running ring set up again (a new call fd - QEMU sends one whenever the
  // guest masks or unmasks the queue's MSI-X vector - a new memory table)
  // goes on from where it is, never from the base it started with.
  if (v.running) v.base = v.queue.lastAvail();
  bool canRun = memory_ && v.addrsSet && v.num && v.kick && (v.enabled || !protocolNegotiated());
  if (canRun) {
    Status st = v.queue.setup(*memory_, v.num, v.addrs, v.base);
    v.running = st.ok();
  } else {
    v.running = false;
    v.queue.reset();
  }
  if (onQueueChange) onQueueChange(i);
}

VhostUserBackend::Result VhostUserBackend::handle(VhostMessage m) {
  std::optional<std::string> reply;
  Status st = apply(m, reply);
  if (!st.ok()) {
    st = InvalidArgumentError(std::string(vhostRequestName(m.request)) + ": " + st.message());
  }
  if (!reply && (m.flags & kNeedReply) && (protocolFeatures_ & kProtocolReplyAck)) {
    reply = replyOf(m.request, u64(st.ok() ? 0 : 1));
  }
  return Result{st, std::move(reply)};
}

Status VhostUserBackend::apply(VhostMessage& m, std::optional<std::string>& reply) {
  const std::string& p = m.payload;
  auto want = [&](size_t n) -> Status {
    if (p.size() != n) {
      return InvalidArgumentError("payload is " + std::to_string(p.size()) + " bytes, want " + std::to_string(n));
    }
    return OkStatus();
  };
  uint32_t i = 0;
  switch (m.request) {
    case kGetFeatures:
      reply = replyOf(m.request, u64(kOfferedFeatures));
      return OkStatus();
    case kSetFeatures: {
      HCS_RETURN_IF_ERROR(want(8));
      uint64_t f = get<uint64_t>(p, 0);
      if (f & ~kOfferedFeatures) return InvalidArgumentError("features include bits we did not offer");
      features_ = f;
      for (int q = 0; q < kVhostQueues; ++q) update(q);
      return OkStatus();
    }
    case kSetOwner:
      return OkStatus();
    case kResetOwner:
      for (int q = 0; q < kVhostQueues; ++q) {
        Vring old = std::move(vrings_[q]);  // its fds close after the server let go of them
        vrings_[q] = Vring();
        update(q);
      }
      return OkStatus();
    case kGetProtocolFeatures:
      if (!protocolNegotiated() && !(features_ == 0)) return InvalidArgumentError("PROTOCOL_FEATURES not negotiated");
      reply = replyOf(m.request, u64(kOfferedProtocolFeatures));
      return OkStatus();
    case kSetProtocolFeatures: {
      HCS_RETURN_IF_ERROR(want(8));
      uint64_t f = get<uint64_t>(p, 0);
      if (f & ~kOfferedProtocolFeatures) return InvalidArgumentError("protocol features include bits we did not offer");
      protocolFeatures_ = f;
      return OkStatus();
    }
    case kGetQueueNum:
      reply = replyOf(m.request, u64(kVhostQueues + 1));  // rx, tx and QEMU's event queue
      return OkStatus();
    case kSetMemTable: {
      if (p.size() < 8) return InvalidArgumentError("payload shorter than its region count");
      uint32_t n = get<uint32_t>(p, 0);
      if (n == 0 || n > 8) return InvalidArgumentError(std::to_string(n) + " regions, want 1 to 8");
      HCS_RETURN_IF_ERROR(want(8 + size_t{n} * 32));
      std::vector<MemoryRegion> regions;
      for (uint32_t r = 0; r < n; ++r) {
        size_t off = 8 + size_t{r} * 32;
        regions.push_back(MemoryRegion{get<uint64_t>(p, off), get<uint64_t>(p, off + 8), get<uint64_t>(p, off + 16),
                                       get<uint64_t>(p, off + 24)});
      }
      auto mem = GuestMemory::map(regions, std::move(m.fds));
      if (!mem.ok()) return mem.status();
      memory_ = std::move(*mem);  // the rings are set up again in the new map
      for (int q = 0; q < kVhostQueues; ++q) update(q);
      return OkStatus();
    }
    case kSetVringNum: {
      HCS_RETURN_IF_ERROR(queueIndex(p, 8, &i));
      uint32_t num = get<uint32_t>(p, 4);
      if (num == 0 || (num & (num - 1)) || num > 32768) {
        return InvalidArgumentError("queue size " + std::to_string(num) + " is not a power of two up to 32768");
      }
      vrings_[i].num = static_cast<uint16_t>(num);
      update(static_cast<int>(i));
      return OkStatus();
    }
    case kSetVringAddr: {
      HCS_RETURN_IF_ERROR(queueIndex(p, 40, &i));
      if (get<uint32_t>(p, 4) & 1) return InvalidArgumentError("dirty logging was not negotiated");
      vrings_[i].addrs = RingAddresses{.desc = get<uint64_t>(p, 8), .avail = get<uint64_t>(p, 24),
                                       .used = get<uint64_t>(p, 16)};
      vrings_[i].addrsSet = true;
      update(static_cast<int>(i));
      return vrings_[i].queue.broken() ? InvalidArgumentError("rings do not fit guest memory") : OkStatus();
    }
    case kSetVringBase:
      HCS_RETURN_IF_ERROR(queueIndex(p, 8, &i));
      vrings_[i].running = false;  // the base given wins over where a running ring was
      vrings_[i].base = static_cast<uint16_t>(get<uint32_t>(p, 4));
      update(static_cast<int>(i));
      return OkStatus();
    case kGetVringBase: {
      HCS_RETURN_IF_ERROR(queueIndex(p, 8, &i));
      Vring& v = vrings_[i];
      uint16_t base = v.running ? v.queue.lastAvail() : v.base;
      runtime::UniqueFd oldKick = std::move(v.kick);  // the ring stops until the next kick fd
      update(static_cast<int>(i));
      v.base = base;
      std::string out;
      put<uint32_t>(out, i);
      put<uint32_t>(out, base);
      reply = replyOf(m.request, out);
      return OkStatus();
    }
    case kSetVringKick:
    case kSetVringCall:
    case kSetVringErr: {
      HCS_RETURN_IF_ERROR(queueIndex(p, 8, &i, true));
      bool noFd = get<uint64_t>(p, 0) & kVringNoFd;
      if (noFd != m.fds.empty() || m.fds.size() > 1) {
        return InvalidArgumentError("the no-fd flag and the fds sent disagree");
      }
      if (noFd && m.request == kSetVringKick) return UnimplementedError("polled queues (no kick fd)");
      runtime::UniqueFd fd = noFd ? runtime::UniqueFd() : std::move(m.fds[0]);
      Vring& v = vrings_[i];
      runtime::UniqueFd& slot = m.request == kSetVringKick ? v.kick : m.request == kSetVringCall ? v.call : v.err;
      runtime::UniqueFd old = std::exchange(slot, std::move(fd));  // closes after update() let go of it
      update(static_cast<int>(i));
      return OkStatus();
    }
    case kSetVringEnable:
      HCS_RETURN_IF_ERROR(queueIndex(p, 8, &i));
      vrings_[i].enabled = get<uint32_t>(p, 4) != 0;
      update(static_cast<int>(i));
      return OkStatus();
    case kGetConfig: {
      if (p.size() < 12) return InvalidArgumentError("payload shorter than its config header");
      uint32_t offset = get<uint32_t>(p, 0), size = get<uint32_t>(p, 4);
      if (size == 0 || size > 256 || p.size() != 12 + size_t{size}) {
        return InvalidArgumentError("config size " + std::to_string(size) + " with a " + std::to_string(p.size()) +
                                    "-byte payload");
      }
      std::string config = u64(guestCid_);
      std::string out = p.substr(0, 12);
      for (uint32_t b = 0; b < size; ++b) {
        uint64_t at = uint64_t{offset} + b;
        out.push_back(at < config.size() ? config[at] : '\0');
      }
      reply = replyOf(m.request, out);
      return OkStatus();
    }
    case kSetConfig:
      return PermissionDeniedError("the vsock config (guest CID) is read-only");
    default:
      return UnimplementedError("request " + std::to_string(m.request) + " is not supported");
  }
}

}  // namespace hcsshim::vsock
