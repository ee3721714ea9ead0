// mkinitrd: writes a guest image's initrd.img - an uncompressed newc cpio
// (the kernel unpacks it faster than it would decompress one under TCG) -
// from explicit entries, byte for byte the same for the same inputs.
//
//   mkinitrd --out initrd.img
//            [--file /bin/gcs=path/to/gcs]...      mode 0755 if the source is executable, else 0644
//            [--dir /proc]... [--symlink /bin/sh=busybox]... [--chardev /dev/console=5:1]...
//            [--modules-dir DIR --modules-dest /lib/modules/VER --module NAME... [--boot-module NAME...]]
//
// --module adds that kernel module and every module it depends on (read
// from their .modinfo, see modules.h) under --modules-dest, plus a
// modules.dep for busybox modprobe and the lists the guest's init loads,
// one relative path per line, dependencies first: load-order.boot (the
// --boot-module closures: what must be there before anything reaches the
// host) and load-order (the rest, loaded while the agent starts).
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "src/common/flags.h"
#include "tools/guest_image/cpio.h"
#include "tools/guest_image/io.h"
#include "tools/guest_image/modules.h"

namespace {

using namespace hcsshim;
using namespace hcsshim::guest_image;

StatusOr<std::pair<std::string, std::string>> splitPair(const std::string& flag, const std::string& arg) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
    return InvalidArgumentError("--" + flag + " " + arg + ": want DEST=VALUE");
  }
  return std::make_pair(arg.substr(0, eq), arg.substr(eq + 1));
}

Status build(const std::string& out, const std::vector<std::string>& files, const std::vector<std::string>& dirs,
             const std::vector<std::string>& symlinks, const std::vector<std::string>& chardevs,
             const std::string& modulesDir, const std::string& modulesDest, const std::vector<std::string>& modules,
             const std::vector<std::string>& bootModules) {
  CpioArchive a;
  for (const auto& d : dirs) HCS_RETURN_IF_ERROR(a.add(d, CpioEntry{.kind = CpioEntry::Kind::kDir, .mode = 0755}));
  for (const auto& f : files) {
    auto kv = splitPair("file", f);
    if (!kv.ok()) return kv.status();
    auto data = readWhole(kv->second);
    if (!data.ok()) return InvalidArgumentError("--file " + f + ": " + data.status().message());
    struct stat st {};
    stat(kv->second.c_str(), &st);
    uint32_t mode = (st.st_mode & S_IXUSR) ? 0755 : 0644;
    HCS_RETURN_IF_ERROR(a.add(kv->first, CpioEntry{.kind = CpioEntry::Kind::kFile, .mode = mode, .data = *data}));
  }
  for (const auto& l : symlinks) {
    auto kv = splitPair("symlink", l);
    if (!kv.ok()) return kv.status();
    HCS_RETURN_IF_ERROR(a.add(kv->first, CpioEntry{.kind = CpioEntry::Kind::kSymlink, .mode = 0777, .data = kv->second}));
  }
  for (const auto& c : chardevs) {
    auto kv = splitPair("chardev", c);
    if (!kv.ok()) return kv.status();
    unsigned maj = 0, min = 0;
    char extra;
    if (std::sscanf(kv->second.c_str(), "%u:%u%c", &maj, &min, &extra) != 2) {
      return InvalidArgumentError("--chardev " + c + ": want DEST=MAJOR:MINOR");
    }
    HCS_RETURN_IF_ERROR(
        a.add(kv->first, CpioEntry{.kind = CpioEntry::Kind::kCharDev, .mode = 0600, .rdevMajor = maj, .rdevMinor = min}));
  }
  if (!modules.empty()) {
    if (modulesDir.empty() || modulesDest.empty()) {
      return InvalidArgumentError("--module needs --modules-dir and --modules-dest");
    }
    auto closure = moduleClosure(modulesDir, modules);
    if (!closure.ok()) return closure.status();
    auto bootClosure = moduleClosure(modulesDir, bootModules);
    if (!bootClosure.ok()) return bootClosure.status();
    std::set<std::string> boot;
    std::string bootOrder;
    for (const auto& m : *bootClosure) {
      boot.insert(m.name);
      bootOrder += m.relPath + "\n";
    }
    std::string order, dep;
    for (const auto& m : *closure) {
      auto data = readWhole(modulesDir + "/" + m.relPath);
      if (!data.ok()) return data.status();
      HCS_RETURN_IF_ERROR(
          a.add(modulesDest + "/" + m.relPath, CpioEntry{.kind = CpioEntry::Kind::kFile, .mode = 0644, .data = *data}));
      if (!boot.count(m.name)) order += m.relPath + "\n";
    }
    // modules.dep: "path: deps..." with the dependencies' paths, for busybox modprobe.
    for (const auto& m : *closure) {
      auto data = readWhole(modulesDir + "/" + m.relPath);
      auto deps = modinfoDepends(*data);
      dep += m.relPath + ":";
      for (const auto& d : *deps) {
        for (const auto& o : *closure) {
          if (o.name == d) dep += " " + o.relPath;
        }
      }
      dep += "\n";
    }
    for (const auto& name : boot) {
      bool listed = false;
      for (const auto& m : *closure) listed |= m.name == name;
      if (!listed) return InvalidArgumentError("--boot-module " + name + " is not among the --module closures");
    }
    HCS_RETURN_IF_ERROR(a.add(modulesDest + "/load-order.boot", CpioEntry{.data = bootOrder}));
    HCS_RETURN_IF_ERROR(a.add(modulesDest + "/load-order", CpioEntry{.data = order}));
    HCS_RETURN_IF_ERROR(a.add(modulesDest + "/modules.dep", CpioEntry{.data = dep}));
  }
  std::string bytes = a.serialise();
  std::string tmp = out + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    o.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!o.good()) {
      std::remove(tmp.c_str());
      return InternalError(out + ": write failed");
    }
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::remove(tmp.c_str());
    return InternalError(out + ": rename failed");
  }
  return OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  std::string out, modulesDir, modulesDest;
  std::vector<std::string> files, dirs, symlinks, chardevs, modules, bootModules;
  FlagSet flags("mkinitrd");
  flags.string("out", &out, "the initrd to write");
  flags.strings("file", &files, "DEST=SRC: a file (repeatable)");
  flags.strings("dir", &dirs, "DEST: a directory (repeatable)");
  flags.strings("symlink", &symlinks, "DEST=TARGET: a symbolic link (repeatable)");
  flags.strings("chardev", &chardevs, "DEST=MAJOR:MINOR: a character device (repeatable)");
  flags.string("modules-dir", &modulesDir, "a kernel's lib/modules/VERSION tree");
  flags.string("modules-dest", &modulesDest, "where modules go in the image (/lib/modules/VERSION)");
  flags.strings("module", &modules, "a kernel module to include with its dependencies (repeatable)");
  flags.strings("boot-module", &bootModules, "a --module init loads before anything else (repeatable)");
  auto rest = flags.parse(argc, argv);
  if (!rest.ok() || !rest->empty() || out.empty()) {
    std::fprintf(stderr, "%s\nusage: mkinitrd --out FILE [flags]\n%s",
                 !rest.ok() ? rest.status().message().c_str() : "mkinitrd: --out is required, no arguments",
                 flags.usage().c_str());
    return 2;
  }
  Status st = build(out, files, dirs, symlinks, chardevs, modulesDir, modulesDest, modules, bootModules);
  if (!st.ok()) {
    std::fprintf(stderr, "mkinitrd: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
