#include "src/shim/rootfs.h"

#include <filesystem>

#include "src/common/json.h"
#include "src/uvm/uvm.h"

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

namespace {

// hostPath: an absolute host path (POSIX, or a Windows drive or UNC path)
// without ".." parts.
bool hostPath(const std::string& p) {
  bool absolute = (!p.empty() && p[0] == '/') ||
                  (p.size() >= 3 && std::isalpha(static_cast<unsigned char>(p[0])) && p[1] == ':' &&
                   (p[2] == '\\' || p[2] == '/')) ||
                  p.rfind("\\\\", 0) == 0;
  if (!absolute || p.find('\0') != std::string::npos) return false;
  size_t start = 0;
  for (size_t i = 0; i <= p.size(); ++i) {
    if (i == p.size() || p[i] == '/' || p[i] == '\\') {
      if (p.compare(start, i - start, "..") == 0 && i - start == 2) return false;
      start = i + 1;
    }
  }
  return true;
}

}  // namespace

StatusOr<std::optional<LcowLayerDisks>> lcowLayerDisks(const Mounts& mounts) {
  bool any = false;
  for (const auto& m : mounts) any = any || m.type() == "lcow-layer";
  if (!any) return std::optional<LcowLayerDisks>();
  auto bad = [](const std::string& why) { return InvalidArgumentError("rootfs mount lcow-layer: " + why); };
  if (mounts.size() != 1) return bad("it must be the only mount (got " + std::to_string(mounts.size()) + ")");
  const auto& m = mounts.Get(0);
  if (!hostPath(m.source())) return bad("source " + m.source().substr(0, 200) + " is not an absolute host path");
  std::optional<Json> parents;
  for (const auto& opt : m.options()) {
    if (opt.rfind("parentLayerPaths=", 0) != 0) continue;
    auto j = parseJson(opt.substr(17));
    if (!j.ok()) return bad("parentLayerPaths: " + j.status().message());
    parents = *j;
  }
  if (!parents) return bad("no parentLayerPaths option");
  if (!parents->is_array() || parents->empty()) return bad("parentLayerPaths: want a non-empty JSON array of paths");
  LcowLayerDisks d;
  for (const auto& p : *parents) {
    if (!p.is_string() || !hostPath(p.get<std::string>())) {
      return bad("parentLayerPaths: " + p.dump().substr(0, 200) + " is not an absolute host path");
    }
    d.layers.push_back(uvm::joinHostPath(p.get<std::string>(), "layer.vhd"));
  }
  d.scratch = uvm::joinHostPath(m.source(), "sandbox.vhdx");
  std::error_code ec;
  fs::path resolved = fs::canonical(d.scratch, ec);
  if (!ec) d.scratch = resolved.string();
  return std::optional<LcowLayerDisks>(std::move(d));
}

}  // namespace hcsshim::shim
