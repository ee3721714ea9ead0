#include "src/shim/rootfs.h"

#include <filesystem>

namespace hcsshim::shim {

namespace fs = std::filesystem;

std::optional<OverlayLayers> overlayLayers(const Mounts& mounts) {
  if (mounts.size() != 1 || mounts.Get(0).type() != "overlay") return std::nullopt;
  OverlayLayers out;
  std::string upper, work;
  for (const auto& opt : mounts.Get(0).options()) {
    if (opt.rfind("lowerdir=", 0) == 0) {
      std::string list = opt.substr(9);
      size_t start = 0;
      for (size_t i = 0; i <= list.size(); ++i) {
        if (i == list.size() || list[i] == ':') {
          if (i > start) out.lower.push_back(list.substr(start, i - start));
          start = i + 1;
        }
      }
    } else if (opt.rfind("upperdir=", 0) == 0) {
      upper = opt.substr(9);
    } else if (opt.rfind("workdir=", 0) == 0) {
      work = opt.substr(8);
    }
  }
  if (out.lower.empty() || upper.empty()) return std::nullopt;
  fs::path u(upper), w(work);
  if (u.filename() != "fs" || w.filename() != "work" || u.parent_path() != w.parent_path()) return std::nullopt;
  out.snapshotDir = u.parent_path().string();
  return out;
}

}  // namespace hcsshim::shim
