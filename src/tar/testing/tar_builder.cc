#include "src/tar/testing/tar_builder.h"

#include <cstdio>
#include <cstring>

namespace hcsshim::tar::testing {

namespace {

void octal(std::string& h, size_t off, size_t len, uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(len - 1), static_cast<unsigned long long>(v));
  std::memcpy(h.data() + off, buf, std::min(len - 1, std::strlen(buf)));
}

std::string padded(const std::string& data) {
  std::string out = data;
  out.resize((data.size() + 511) / 512 * 512, '\0');
  return out;
}

}  // namespace

std::string header(const Member& m) {
  std::string h(512, '\0');
  std::memcpy(h.data(), m.name.data(), std::min<size_t>(m.name.size(), 100));
  octal(h, 100, 8, m.mode);
  octal(h, 108, 8, m.uid);
  octal(h, 116, 8, m.gid);
  octal(h, 124, 12, m.sizeField >= 0 ? static_cast<uint64_t>(m.sizeField) : m.data.size());
  octal(h, 136, 12, m.mtime);
  h[156] = m.type;
  std::memcpy(h.data() + 157, m.link.data(), std::min<size_t>(m.link.size(), 100));
  std::memcpy(h.data() + 257, "ustar\0" "00", 8);
  octal(h, 329, 8, m.devMajor);
  octal(h, 337, 8, m.devMinor);
  setChecksum(h);
  return h;
}

void setChecksum(std::string& h) {
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char ck[8];
  std::snprintf(ck, sizeof ck, "%06o", sum);
  std::memcpy(h.data() + 148, ck, 7);
}

std::string member(const Member& m) {
  std::string out;
  if (!m.pax.empty()) {
    std::string records;
    for (const auto& [k, v] : m.pax) {
      std::string body = " " + k + "=" + v + "\n";
      size_t len = body.size() + 1;
      while (std::to_string(len).size() + body.size() != len) ++len;
      records += std::to_string(len) + body;
    }
    Member x{.name = "PaxHeaders/" + m.name.substr(0, 80), .type = 'x', .data = records};
    out += header(x) + padded(records);
  }
  Member main = m;
  if (m.gnuLongName) {
    Member l{.name = "././@LongLink", .type = 'L', .data = m.name + std::string(1, '\0')};
    out += header(l) + padded(l.data);
    main.name = m.name.substr(0, 99);
  }
  out += header(main) + padded(m.data);
  return out;
}

std::string end() { return std::string(1024, '\0'); }

}  // namespace hcsshim::tar::testing
