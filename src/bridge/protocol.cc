#include "src/bridge/protocol.h"

#include <cstdio>

namespace hcsshim::bridge {

using runtime::Task;

std::string typeName(uint32_t type) {
  std::string_view base;
  switch (requestTypeOf(type)) {
    case msg::kCreate: base = "Create"; break;
    case msg::kStart: base = "Start"; break;
    case msg::kShutdownGraceful: base = "ShutdownGraceful"; break;
    case msg::kShutdownForced: base = "ShutdownForced"; break;
    case msg::kExecuteProcess: base = "ExecuteProcess"; break;
    case msg::kWaitForProcess: base = "WaitForProcess"; break;
    case msg::kSignalProcess: base = "SignalProcess"; break;
    case msg::kResizeConsole: base = "ResizeConsole"; break;
    case msg::kGetProperties: base = "GetProperties"; break;
    case msg::kModifySettings: base = "ModifySettings"; break;
    case msg::kNegotiateProtocol: base = "NegotiateProtocol"; break;
    case msg::kDumpStacks: base = "DumpStacks"; break;
    case msg::kDeleteContainerState: base = "DeleteContainerState"; break;
    case msg::kUpdateContainer: base = "UpdateContainer"; break;
    case msg::kLifecycleNotification: base = "LifecycleNotification"; break;
    case msg::kModifyServiceSettings: base = "ModifyServiceSettings"; break;
    default: break;
  }
  if (type == msg::kContainerNotification) return "ContainerNotification";
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", type);
  if (base.empty()) return hex;
  switch (kindOf(type)) {
    case Kind::kRequest: return std::string(base);
    case Kind::kResponse: return std::string(base) + " response";
    default: return hex;
  }
}

void encodeHeader(const Header& h, char out[kHeaderSize]) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(h.type >> (8 * i));
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<char>(h.size >> (8 * i));
  for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<char>(h.id >> (8 * i));
}

Header decodeHeader(const char in[kHeaderSize]) {
  auto byte = [&](int i) { return static_cast<uint64_t>(static_cast<unsigned char>(in[i])); };
  Header h;
  for (int i = 0; i < 4; ++i) h.type |= static_cast<uint32_t>(byte(i) << (8 * i));
  for (int i = 0; i < 4; ++i) h.size |= static_cast<uint32_t>(byte(4 + i) << (8 * i));
  for (int i = 0; i < 8; ++i) h.id |= byte(8 + i) << (8 * i);
  return h;
}

Status checkHeader(const Header& h) {
  if (h.size < kHeaderSize || h.size > kMaxMessageSize) {
    return InvalidArgumentError("bridge message " + std::to_string(h.id) + " (" + typeName(h.type) + "): size " +
                                std::to_string(h.size) + " outside " + std::to_string(kHeaderSize) + ".." +
                                std::to_string(kMaxMessageSize));
  }
  return OkStatus();
}

StatusOr<std::string> encodeFrame(uint32_t type, uint64_t id, std::string_view payload) {
  if (payload.size() > kMaxMessageSize - kHeaderSize) {
    return ResourceExhaustedError(typeName(type) + " message of " + std::to_string(payload.size() + kHeaderSize) +
                                  " bytes exceeds the bridge limit of " + std::to_string(kMaxMessageSize));
  }
  std::string out(kHeaderSize, '\0');
  encodeHeader(Header{type, static_cast<uint32_t>(kHeaderSize + payload.size()), id}, out.data());
  out.append(payload);
  return out;
}

StatusOr<std::pair<Frame, size_t>> parseFrame(std::string_view data) {
  if (data.size() < kHeaderSize) return UnavailableError("need " + std::to_string(kHeaderSize) + " header bytes");
  Frame f;
  f.header = decodeHeader(data.data());
  HCS_RETURN_IF_ERROR(checkHeader(f.header));
  if (data.size() < f.header.size) return UnavailableError("need " + std::to_string(f.header.size) + " bytes");
  f.payload.assign(data.substr(kHeaderSize, f.header.size - kHeaderSize));
  return std::make_pair(std::move(f), static_cast<size_t>(f.header.size));
}

Task<StatusOr<Frame>> Connection::recv() {
  if (io_.closed()) co_return CancelledError("bridge connection closed");
  Status st = co_await io_.fill(kHeaderSize);
  if (!st.ok()) {
    if (st.message().starts_with("unexpected EOF")) co_return UnavailableError("truncated bridge header: " + st.message());
    co_return st;
  }
  Frame f;
  f.header = decodeHeader(io_.data());
  HCS_CO_RETURN_IF_ERROR(checkHeader(f.header));
  io_.consume(kHeaderSize);
  size_t body = f.header.size - kHeaderSize;
  st = co_await io_.fill(body);
  if (!st.ok()) {
    co_return UnavailableError("truncated bridge message " + std::to_string(f.header.id) + " (" +
                               typeName(f.header.type) + "): " + st.message());
  }
  f.payload.assign(io_.data(), body);
  io_.consume(body);
  co_return f;
}

Status Connection::send(uint32_t type, uint64_t id, std::string_view payload) {
  if (payload.size() > kMaxMessageSize - kHeaderSize) {
    return ResourceExhaustedError(typeName(type) + " message of " + std::to_string(payload.size() + kHeaderSize) +
                                  " bytes exceeds the bridge limit of " + std::to_string(kMaxMessageSize));
  }
  char hdr[kHeaderSize];
  encodeHeader(Header{type, static_cast<uint32_t>(kHeaderSize + payload.size()), id}, hdr);
  return io_.send(std::string_view(hdr, kHeaderSize), payload);
}

}  // namespace hcsshim::bridge
