#include "tools/guest_image/cpio.h"

#include <sys/stat.h>

#include <cstdio>

namespace hcsshim::guest_image {

std::string CpioArchive::normalise(const std::string& path) { return path.empty() ? path : path.substr(1); }

Status CpioArchive::add(const std::string& path, CpioEntry entry) {
  if (path.size() < 2 || path[0] != '/') return InvalidArgumentError("cpio: \"" + path + "\": want an absolute path");
  std::string rel = normalise(path);
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string component = rel.substr(start, end - start);
    if (component.empty() || component == "." || component == "..") {
      return InvalidArgumentError("cpio: \"" + path + "\": empty, \".\" or \"..\" component");
    }
    if (end == rel.size()) break;
    std::string parent = rel.substr(0, end);
    auto it = entries_.find(parent);
    if (it == entries_.end()) {
      entries_.emplace(parent, CpioEntry{.kind = CpioEntry::Kind::kDir, .mode = 0755});
    } else if (it->second.kind != CpioEntry::Kind::kDir) {
      return InvalidArgumentError("cpio: \"" + path + "\": /" + parent + " is not a directory");
    }
    start = end + 1;
  }
  auto [it, inserted] = entries_.emplace(rel, entry);
  if (!inserted) {
    bool bothDirs = it->second.kind == CpioEntry::Kind::kDir && entry.kind == CpioEntry::Kind::kDir;
    if (!bothDirs) return InvalidArgumentError("cpio: \"" + path + "\" added twice");
    it->second.mode = entry.mode;  // an explicit directory entry sets the mode of an implied one
  }
  return OkStatus();
}

namespace {

void header(std::string& out, uint32_t ino, uint32_t mode, uint32_t nlink, uint32_t size, uint32_t rmaj,
            uint32_t rmin, const std::string& name) {
  char buf[111];
  std::snprintf(buf, sizeof buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0u, 0u,
                nlink, 0u, size, 0u, 0u, rmaj, rmin, static_cast<uint32_t>(name.size() + 1), 0u);
  out.append(buf, 110);
  out += name;
  out.push_back('\0');
  while (out.size() % 4) out.push_back('\0');
}

}  // namespace

std::string CpioArchive::serialise() const {
  std::string out;
  uint32_t ino = 1;
  // std::map orders "a" < "a/b" < "a0": every parent precedes its children.
  for (const auto& [name, e] : entries_) {
    uint32_t type = 0, nlink = 1;
    switch (e.kind) {
      case CpioEntry::Kind::kFile: type = S_IFREG; break;
      case CpioEntry::Kind::kDir: type = S_IFDIR; nlink = 2; break;
      case CpioEntry::Kind::kSymlink: type = S_IFLNK; break;
      case CpioEntry::Kind::kCharDev: type = S_IFCHR; break;
    }
    bool hasData = e.kind == CpioEntry::Kind::kFile || e.kind == CpioEntry::Kind::kSymlink;
    header(out, ino++, type | (e.mode & 07777), nlink, hasData ? static_cast<uint32_t>(e.data.size()) : 0,
           e.rdevMajor, e.rdevMinor, name);
    if (hasData) {
      out += e.data;
      while (out.size() % 4) out.push_back('\0');
    }
  }
  header(out, 0, 0, 1, 0, 0, 0, "TRAILER!!!");
  return out;
}

}  // namespace hcsshim::guest_image
