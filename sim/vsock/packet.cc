#include "sim/vsock/packet.h"

#include <cstring>

namespace hcsshim::vsock {

namespace {

template <typename T>
T le(std::string_view b, size_t off) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<uint8_t>(b[off + i])) << (8 * i);
  return v;
}

template <typename T>
void putLe(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

StatusOr<Header> parseHeader(std::string_view b) {
  if (b.size() < kHeaderSize) {
    return InvalidArgumentError("vsock packet: " + std::to_string(b.size()) + " bytes, a header is 44");
  }
  Header h;
  h.srcCid = le<uint64_t>(b, 0);
  h.dstCid = le<uint64_t>(b, 8);
  h.srcPort = le<uint32_t>(b, 16);
  h.dstPort = le<uint32_t>(b, 20);
  h.len = le<uint32_t>(b, 24);
  h.type = le<uint16_t>(b, 28);
  h.op = static_cast<Op>(le<uint16_t>(b, 30));
  h.flags = le<uint32_t>(b, 32);
  h.bufAlloc = le<uint32_t>(b, 36);
  h.fwdCnt = le<uint32_t>(b, 40);
  return h;
}

void appendHeader(std::string& out, const Header& h) {
  putLe(out, h.srcCid);
  putLe(out, h.dstCid);
  putLe(out, h.srcPort);
  putLe(out, h.dstPort);
  putLe(out, h.len);
  putLe(out, h.type);
  putLe(out, static_cast<uint16_t>(h.op));
  putLe(out, h.flags);
  putLe(out, h.bufAlloc);
  putLe(out, h.fwdCnt);
}

const char* opName(Op op) {
  switch (op) {
    case Op::kInvalid: return "INVALID";
    case Op::kRequest: return "REQUEST";
    case Op::kResponse: return "RESPONSE";
    case Op::kRst: return "RST";
    case Op::kShutdown: return "SHUTDOWN";
    case Op::kRw: return "RW";
    case Op::kCreditUpdate: return "CREDIT_UPDATE";
    case Op::kCreditRequest: return "CREDIT_REQUEST";
  }
  return "UNKNOWN";
}

std::string describe(const Header& h) {
  return std::string(opName(h.op)) + " " + std::to_string(h.srcCid) + ":" + std::to_string(h.srcPort) + " -> " +
         std::to_string(h.dstCid) + ":" + std::to_string(h.dstPort) + " len " + std::to_string(h.len);
}

}  // namespace hcsshim::vsock
