#include "tools/guest_image/modules.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "tools/guest_image/io.h"

namespace hcsshim::guest_image {

namespace {

std::string canonical(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

template <typename T>
bool readAt(std::string_view b, uint64_t off, T* out) {
  if (off > b.size() || b.size() - off < sizeof(T)) return false;
  std::memcpy(out, b.data() + off, sizeof(T));
  return true;
}

}  // namespace

StatusOr<std::vector<std::string>> modinfoDepends(std::string_view b) {
  if (b.size() < 64 || b.substr(0, 4) != "\x7f" "ELF" || b[4] != 2 || b[5] != 1) {
    return InvalidArgumentError("not a little-endian ELF64 object");
  }
  uint64_t shoff = 0;
  uint16_t shentsize = 0, shnum = 0, shstrndx = 0;
  readAt(b, 0x28, &shoff);
  readAt(b, 0x3a, &shentsize);
  readAt(b, 0x3c, &shnum);
  readAt(b, 0x3e, &shstrndx);
  if (shentsize != 64 || shstrndx >= shnum) return InvalidArgumentError("ELF section table malformed");
  auto section = [&](uint16_t i, uint32_t* nameOff, uint64_t* off, uint64_t* size) {
    uint64_t at = shoff + uint64_t{i} * 64;
    return readAt(b, at, nameOff) && readAt(b, at + 0x18, off) && readAt(b, at + 0x20, size) && *off <= b.size() &&
           b.size() - *off >= *size;
  };
  uint32_t n;
  uint64_t strOff, strSize;
  if (!section(shstrndx, &n, &strOff, &strSize)) return InvalidArgumentError("ELF section names outside the file");
  std::string_view names = b.substr(strOff, strSize);
  for (uint16_t i = 0; i < shnum; ++i) {
    uint64_t off, size;
    if (!section(i, &n, &off, &size)) return InvalidArgumentError("ELF section " + std::to_string(i) + " outside the file");
    if (n >= names.size() || names.substr(n, names.find('\0', n) - n) != ".modinfo") continue;
    std::vector<std::string> deps;
    std::string_view info = b.substr(off, size);
    for (size_t p = 0; p < info.size();) {
      size_t end = info.find('\0', p);
      if (end == std::string_view::npos) end = info.size();
      std::string_view kv = info.substr(p, end - p);
      if (kv.starts_with("depends=")) {
        std::string_view list = kv.substr(8);
        while (!list.empty()) {
          size_t comma = list.find(',');
          if (comma != 0) deps.emplace_back(canonical(std::string(list.substr(0, comma))));
          if (comma == std::string_view::npos) break;
          list.remove_prefix(comma + 1);
        }
      }
      p = end + 1;
    }
    return deps;
  }
  return InvalidArgumentError("no .modinfo section");
}

StatusOr<std::vector<Module>> moduleClosure(const std::string& modulesDir, const std::vector<std::string>& wanted) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> index;  // name -> relPath
  std::error_code ec;
  for (fs::recursive_directory_iterator it(modulesDir, fs::directory_options::follow_directory_symlink, ec), end;
       !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".ko") continue;
    index.emplace(canonical(p.stem().string()), p.lexically_relative(modulesDir).string());
  }
  if (ec) return NotFoundError("modules tree " + modulesDir + ": " + ec.message());
  std::vector<Module> order;
  std::set<std::string> done, visiting;
  std::function<Status(const std::string&, const std::string&)> visit = [&](const std::string& name,
                                                                          const std::string& by) -> Status {
    if (done.count(name)) return OkStatus();
    if (!visiting.insert(name).second) return InvalidArgumentError("module " + name + ": dependency cycle");
    auto it = index.find(name);
    if (it == index.end()) {
      return NotFoundError("module " + name + (by.empty() ? "" : " (needed by " + by + ")") + ": not in " + modulesDir);
    }
    auto bytes = readWhole(modulesDir + "/" + it->second);
    if (!bytes.ok()) return bytes.status();
    auto deps = modinfoDepends(*bytes);
    if (!deps.ok()) return InvalidArgumentError("module " + it->second + ": " + deps.status().message());
    for (const auto& d : *deps) HCS_RETURN_IF_ERROR(visit(d, name));
    visiting.erase(name);
    done.insert(name);
    order.push_back(Module{name, it->second});
    return OkStatus();
  };
  for (const auto& w : wanted) HCS_RETURN_IF_ERROR(visit(canonical(w), ""));
  return order;
}

}  // namespace hcsshim::guest_image
