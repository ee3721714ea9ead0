#include "src/tar/tar_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hcsshim::tar {

namespace {

constexpr size_t kRecord = 512;
constexpr uint64_t kMaxExtension = 1 << 20;

std::string field(const char* h, size_t off, size_t len) {
  size_t n = 0;
  while (n < len && h[off + n] != '\0') ++n;
  return std::string(h + off, n);
}

// number: octal (spaces and NULs around it) or GNU base-256.
StatusOr<uint64_t> number(const char* h, size_t off, size_t len, const char* name) {
  const auto* p = reinterpret_cast<const unsigned char*>(h + off);
  if (p[0] & 0x80) {
    if (p[0] == 0xff) return InvalidArgumentError(std::string(name) + " is negative");
    uint64_t v = p[0] & 0x7f;
    for (size_t i = 1; i < len; ++i) {
      if (v >> 56) return InvalidArgumentError(std::string(name) + " does not fit 64 bits");
      v = (v << 8) | p[i];
    }
    return v;
  }
  size_t i = 0;
  while (i < len && (p[i] == ' ' || p[i] == '\0')) ++i;
  uint64_t v = 0;
  bool any = false;
  for (; i < len && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 61) return InvalidArgumentError(std::string(name) + " does not fit 64 bits");
    v = v * 8 + (p[i] - '0');
    any = true;
  }
  for (; i < len; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return InvalidArgumentError(std::string(name) + " is not an octal number");
  }
  (void)any;  // an empty field is 0
  return v;
}

bool allZero(const char* b) {
  for (size_t i = 0; i < kRecord; ++i) {
    if (b[i]) return false;
  }
  return true;
}

bool checksumOk(const char* h) {
  auto want = number(h, 148, 8, "checksum");
  if (!want.ok()) return false;
  uint64_t u = 0;
  int64_t s = 0;
  for (size_t i = 0; i < kRecord; ++i) {
    char c = (i >= 148 && i < 156) ? ' ' : h[i];
    u += static_cast<unsigned char>(c);
    s += static_cast<signed char>(c);
  }
  return *want == u || static_cast<int64_t>(*want) == s;
}

// decimal: a pax number, optionally with a fraction (times).
StatusOr<Time> paxTime(const std::string& v) {
  Time t;
  size_t i = 0;
  bool neg = !v.empty() && v[0] == '-';
  if (neg) ++i;
  if (i >= v.size()) return InvalidArgumentError("empty time");
  int64_t sec = 0;
  for (; i < v.size() && v[i] != '.'; ++i) {
    if (v[i] < '0' || v[i] > '9' || sec > (INT64_MAX - 9) / 10) return InvalidArgumentError("time " + v);
    sec = sec * 10 + (v[i] - '0');
  }
  uint32_t nsec = 0, digits = 0;
  if (i < v.size()) {
    for (++i; i < v.size(); ++i) {
      if (v[i] < '0' || v[i] > '9') return InvalidArgumentError("time " + v);
      if (digits < 9) nsec = nsec * 10 + static_cast<uint32_t>(v[i] - '0'), ++digits;
    }
    while (digits < 9) nsec *= 10, ++digits;
  }
  t.sec = neg ? -sec : sec;
  t.nsec = nsec;
  if (neg && nsec) {
    t.sec -= 1;
    t.nsec = 1000000000 - nsec;
  }
  return t;
}

StatusOr<uint64_t> paxNumber(const std::string& v, const std::string& key) {
  if (v.empty() || v.size() > 20) return InvalidArgumentError("pax " + key + "=" + v.substr(0, 32) + " is not a number");
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) return InvalidArgumentError("pax " + key + "=" + v + " is not a number");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

Status TarReader::fill(char* buf, size_t n, const std::string& what) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd_, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status(Code::kUnavailable, "reading the archive: " + std::string(std::strerror(errno)));
    if (r == 0) {
      return Status(Code::kDataLoss, "truncated archive: " + what + " needs " + std::to_string(n - got) +
                                         " more bytes at offset " + std::to_string(offset_));
    }
    got += static_cast<size_t>(r);
    offset_ += static_cast<uint64_t>(r);
  }
  return OkStatus();
}

Status TarReader::skip(uint64_t n, const std::string& what) {
  char buf[16384];
  while (n > 0) {
    size_t part = static_cast<size_t>(std::min<uint64_t>(n, sizeof buf));
    HCS_RETURN_IF_ERROR(fill(buf, part, what));
    n -= part;
  }
  return OkStatus();
}

StatusOr<std::string> TarReader::readBody(uint64_t size, const std::string& what) {
  if (size > kMaxExtension) {
    return InvalidArgumentError(what + " is " + std::to_string(size) + " bytes (at most 1 MiB)");
  }
  std::string body(static_cast<size_t>(size), '\0');
  HCS_RETURN_IF_ERROR(fill(body.data(), body.size(), what));
  HCS_RETURN_IF_ERROR(skip((kRecord - size % kRecord) % kRecord, what));
  return body;
}

Status TarReader::applyPax(const std::string& r, std::map<std::string, std::string>& into, const std::string& what) {
  size_t i = 0;
  while (i < r.size()) {
    size_t space = r.find(' ', i);
    if (space == std::string::npos || space == i || space - i > 20) return InvalidArgumentError(what + ": malformed pax record");
    uint64_t len = 0;
    for (size_t k = i; k < space; ++k) {
      if (r[k] < '0' || r[k] > '9') return InvalidArgumentError(what + ": malformed pax record length");
      len = len * 10 + static_cast<uint64_t>(r[k] - '0');
    }
    if (len <= space - i + 1 || len > r.size() - i || r[i + len - 1] != '\n') {
      return InvalidArgumentError(what + ": pax record length " + std::to_string(len) + " does not fit");
    }
    std::string kv = r.substr(space + 1, i + len - 1 - (space + 1));
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return InvalidArgumentError(what + ": pax record without key=value");
    into[kv.substr(0, eq)] = kv.substr(eq + 1);
    i += len;
  }
  return OkStatus();
}

Status TarReader::readGnuSparse(const char* h, TarEntry* e) {
  auto take = [&](const char* block, size_t at, size_t count) -> Status {
    for (size_t k = 0; k < count; ++k) {
      size_t off = at + k * 24;
      if (block[off] == '\0') return OkStatus();
      auto o = number(block, off, 12, "sparse offset");
      auto n = number(block, off + 12, 12, "sparse length");
      if (!o.ok() || !n.ok()) return InvalidArgumentError(e->path + ": malformed sparse map");
      e->sparse.emplace_back(*o, *n);
      if (e->sparse.size() > 1000000) return InvalidArgumentError(e->path + ": more than a million sparse regions");
    }
    return OkStatus();
  };
  HCS_RETURN_IF_ERROR(take(h, 386, 4));
  auto real = number(h, 483, 12, "real size");
  if (!real.ok()) return InvalidArgumentError(e->path + ": " + real.status().message());
  e->size = *real;
  bool extended = h[482] != '\0';
  while (extended) {
    char ext[kRecord];
    HCS_RETURN_IF_ERROR(fill(ext, kRecord, e->path + "'s sparse map"));
    HCS_RETURN_IF_ERROR(take(ext, 0, 21));
    extended = ext[504] != '\0';
  }
  return OkStatus();
}

// readPaxSparseMap: GNU.sparse 1.0 - the data starts with decimal lines
// (the region count, then offset and length of each), padded to a record.
Status TarReader::readPaxSparseMap(TarEntry* e) {
  uint64_t used = 0;
  std::string pending;
  auto line = [&]() -> StatusOr<uint64_t> {
    for (;;) {
      size_t nl = pending.find('\n');
      if (nl != std::string::npos) {
        std::string l = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        return paxNumber(l, "GNU.sparse map");
      }
      if (pending.size() > 64 || dataLeft_ < kRecord) return InvalidArgumentError(e->path + ": malformed sparse map");
      char rec[kRecord];
      HCS_RETURN_IF_ERROR(fill(rec, kRecord, e->path + "'s sparse map"));
      dataLeft_ -= kRecord;
      used += kRecord;
      pending.append(rec, kRecord);
    }
  };
  HCS_ASSIGN_OR_RETURN(uint64_t count, line());
  if (count > 1000000) return InvalidArgumentError(e->path + ": " + std::to_string(count) + " sparse regions");
  for (uint64_t k = 0; k < count; ++k) {
    HCS_ASSIGN_OR_RETURN(uint64_t o, line());
    HCS_ASSIGN_OR_RETURN(uint64_t n, line());
    e->sparse.emplace_back(o, n);
  }
  (void)used;
  return OkStatus();
}

StatusOr<bool> TarReader::next(TarEntry* e) {
  if (ended_) return false;
  HCS_RETURN_IF_ERROR(skip(dataLeft_ + padding_, current_.empty() ? "a member's data" : current_ + "'s data"));
  dataLeft_ = padding_ = 0;
  std::map<std::string, std::string> pax;
  std::string longName, longLink;
  bool haveLongName = false, haveLongLink = false;
  for (;;) {
    char h[kRecord];
    uint64_t at = offset_;
    ssize_t first = 0;
    // The end of the input where a header would start ends the archive.
    for (;;) {
      first = ::read(fd_, h, kRecord);
      if (first < 0 && errno == EINTR) continue;
      break;
    }
    if (first < 0) return Status(Code::kUnavailable, "reading the archive: " + std::string(std::strerror(errno)));
    if (first == 0) {
      if (!pax.empty() || haveLongName || haveLongLink) return Status(Code::kDataLoss, "truncated archive: an extension header has no member");
      ended_ = true;
      return false;
    }
    offset_ += static_cast<uint64_t>(first);
    if (static_cast<size_t>(first) < kRecord) {
      HCS_RETURN_IF_ERROR(fill(h + first, kRecord - static_cast<size_t>(first), "the header at offset " + std::to_string(at)));
    }
    if (allZero(h)) {
      ended_ = true;
      return false;
    }
    if (!checksumOk(h)) return InvalidArgumentError("bad header checksum at offset " + std::to_string(at));
    char type = h[156];
    std::string name = field(h, 0, 100);
    bool ustar = std::memcmp(h + 257, "ustar", 5) == 0;
    bool gnu = std::memcmp(h + 257, "ustar  ", 8) == 0;
    if (ustar && !gnu && h[345]) name = field(h, 345, 155) + "/" + name;
    std::string what = "member " + (haveLongName ? longName : name);
    auto size = number(h, 124, 12, "size");
    if (!size.ok()) return InvalidArgumentError(what + ": " + size.status().message());
    if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
      HCS_ASSIGN_OR_RETURN(std::string body, readBody(*size, what + "'s extension header"));
      if (type == 'L' || type == 'K') {
        body = body.substr(0, body.find('\0'));
        (type == 'L' ? longName : longLink) = body;
        (type == 'L' ? haveLongName : haveLongLink) = true;
      } else {
        HCS_RETURN_IF_ERROR(applyPax(body, type == 'x' ? pax : global_, what));
      }
      continue;
    }
    if (type == 'V') {  // a volume label
      HCS_RETURN_IF_ERROR(skip((*size + kRecord - 1) / kRecord * kRecord, what));
      continue;
    }
    std::map<std::string, std::string> all = global_;
    for (auto& [k, v] : pax) all[k] = v;
    TarEntry out;
    out.path = haveLongName ? longName : name;
    out.linkTarget = haveLongLink ? longLink : field(h, 157, 100);
    auto num = [&](size_t off, size_t len, const char* n) -> StatusOr<uint64_t> {
      auto v = number(h, off, len, n);
      if (!v.ok()) return InvalidArgumentError("member " + out.path + ": " + v.status().message());
      return v;
    };
    HCS_ASSIGN_OR_RETURN(uint64_t mode, num(100, 8, "mode"));
    HCS_ASSIGN_OR_RETURN(uint64_t uid, num(108, 8, "uid"));
    HCS_ASSIGN_OR_RETURN(uint64_t gid, num(116, 8, "gid"));
    HCS_ASSIGN_OR_RETURN(uint64_t mtime, num(136, 12, "mtime"));
    out.mode = static_cast<uint32_t>(mode & 07777);
    out.uid = static_cast<uint32_t>(uid);
    out.gid = static_cast<uint32_t>(gid);
    out.mtime.sec = static_cast<int64_t>(mtime);
    out.atime = out.ctime = out.mtime;
    if (gnu) {
      auto a = number(h, 345, 12, "atime"), c = number(h, 357, 12, "ctime");
      if (a.ok() && *a) out.atime.sec = static_cast<int64_t>(*a);
      if (c.ok() && *c) out.ctime.sec = static_cast<int64_t>(*c);
    }
    if (ustar) {
      HCS_ASSIGN_OR_RETURN(uint64_t major, num(329, 8, "devmajor"));
      HCS_ASSIGN_OR_RETURN(uint64_t minor, num(337, 8, "devminor"));
      if (major > 0xfff || minor > 0xfffff) return InvalidArgumentError("member " + out.path + ": device numbers out of range");
      out.devMajor = static_cast<uint32_t>(major);
      out.devMinor = static_cast<uint32_t>(minor);
    }
    uint64_t stored = *size;
    switch (type) {
      case '0': case '\0': case '7': out.type = EntryType::kRegular; break;
      case '1': out.type = EntryType::kHardLink; break;
      case '2': out.type = EntryType::kSymlink; break;
      case '3': out.type = EntryType::kCharDevice; break;
      case '4': out.type = EntryType::kBlockDevice; break;
      case '5': case 'D': out.type = EntryType::kDirectory; break;
      case '6': out.type = EntryType::kFifo; break;
      case 'S':
        out.type = EntryType::kRegular;
        HCS_RETURN_IF_ERROR(readGnuSparse(h, &out));
        break;
      default:
        return Status(Code::kUnimplemented, "member " + out.path + ": tar type '" + std::string(1, type) + "' is not supported");
    }
    if (type != 'S') out.size = stored;
    // Pax overrides.
    bool paxSparse = false;
    for (const auto& [k, v] : all) {
      auto bad = [&](const Status& st) { return InvalidArgumentError("member " + out.path + ": " + st.message()); };
      if (k == "path") out.path = v;
      else if (k == "linkpath") out.linkTarget = v;
      else if (k == "size") {
        auto n = paxNumber(v, k);
        if (!n.ok()) return bad(n.status());
        stored = *n;
        if (type != 'S') out.size = *n;
      } else if (k == "uid" || k == "gid") {
        auto n = paxNumber(v, k);
        if (!n.ok() || *n > UINT32_MAX) return bad(InvalidArgumentError("pax " + k + "=" + v));
        (k == "uid" ? out.uid : out.gid) = static_cast<uint32_t>(*n);
      } else if (k == "mtime" || k == "atime" || k == "ctime") {
        auto t = paxTime(v);
        if (!t.ok()) return bad(t.status());
        (k == "mtime" ? out.mtime : k == "atime" ? out.atime : out.ctime) = *t;
      } else if (k.rfind("SCHILY.xattr.", 0) == 0) {
        out.xattrs[k.substr(13)] = v;
      } else if (k == "GNU.sparse.major") {
        if (v != "1") return Status(Code::kUnimplemented, "member " + out.path + ": GNU sparse format " + v + ".x");
        paxSparse = true;
      } else if (k == "GNU.sparse.map" || k == "GNU.sparse.offset") {
        return Status(Code::kUnimplemented, "member " + out.path + ": GNU sparse format 0.x");
      }
    }
    if (paxSparse) {
      auto name = all.find("GNU.sparse.name");
      if (name != all.end()) out.path = name->second;
      auto real = all.find("GNU.sparse.realsize");
      if (real == all.end()) return InvalidArgumentError("member " + out.path + ": GNU.sparse.realsize missing");
      auto n = paxNumber(real->second, "GNU.sparse.realsize");
      if (!n.ok()) return InvalidArgumentError("member " + out.path + ": " + n.status().message());
      out.size = *n;
    }
    if (out.path.empty()) return InvalidArgumentError("a member at offset " + std::to_string(at) + " has no name");
    current_ = "member " + out.path;
    bool hasData = out.type == EntryType::kRegular;
    dataLeft_ = hasData || type == 'D' ? stored : 0;
    padding_ = (kRecord - dataLeft_ % kRecord) % kRecord;
    if (!hasData && type != 'D') {
      // A link or device with a size field: its records are not data; GNU
      // tar writes 0, so anything else is skipped as stored.
      dataLeft_ = 0;
      padding_ = 0;
      if (stored) HCS_RETURN_IF_ERROR(skip((stored + kRecord - 1) / kRecord * kRecord, current_ + "'s records"));
    }
    if (type == 'D') {
      HCS_RETURN_IF_ERROR(skip(dataLeft_ + padding_, current_ + "'s records"));
      dataLeft_ = padding_ = 0;
    }
    if (paxSparse) HCS_RETURN_IF_ERROR(readPaxSparseMap(&out));
    // A sparse map must describe the stored data, in order, inside the file.
    uint64_t end = 0, total = 0;
    for (const auto& [o, n] : out.sparse) {
      if (o < end || o > out.size || n > out.size - o) {
        return InvalidArgumentError("member " + out.path + ": its sparse map has a region outside the file or out of order");
      }
      end = o + n;
      total += n;
    }
    if (!out.sparse.empty() && total != dataLeft_) {
      return InvalidArgumentError("member " + out.path + ": its sparse map holds " + std::to_string(total) +
                                  " bytes, the member " + std::to_string(dataLeft_));
    }
    if (out.sparse.empty() && out.type == EntryType::kRegular && stored != out.size) {
      return InvalidArgumentError("member " + out.path + ": stored size differs from its size");
    }
    *e = std::move(out);
    return true;
  }
}

StatusOr<size_t> TarReader::read(char* buf, size_t n) {
  size_t part = static_cast<size_t>(std::min<uint64_t>(n, dataLeft_));
  if (part == 0) return size_t{0};
  HCS_RETURN_IF_ERROR(fill(buf, part, current_ + "'s data"));
  dataLeft_ -= part;
  return part;
}

}  // namespace hcsshim::tar
