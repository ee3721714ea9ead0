// init: PID 1 of a utility VM booted from our guest image.
//
//   /init [-e PORT] CMD [ARGS...]       (the kernel passes what follows "--")
//
// Mounts /proc, /sys, /dev (devtmpfs), /run and /tmp; loads the kernel
// modules the image lists in /lib/modules/<release>/load-order.boot
// (written by tools/guest_image/mkinitrd, dependencies first: PCI and
// vsock, so the host can be reached; the power button), then starts a
// child that loads load-order (SCSI, pmem, 9p, overlay, ext4, NICs) while
// the agent starts, with /run/gcs-modules.loading present until it is done
// (the Hyper-V drivers only under Hyper-V); with -e, reads 512 bytes of
// entropy from host vsock port PORT (hcsshim's init does the same with
// `-e 1`) and credits them to the kernel's pool; then becomes CMD (in
// hcsshim's LCOW: vsockexec, which becomes gcs).
// Progress and failures go to the kernel log (/dev/kmsg), one line each.
#include <fcntl.h>
#include <linux/random.h>
#include <linux/vm_sockets.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cpuid.h>

#include "gcs/init/boot.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using namespace hcsshim;

int kmsg = -1;

void logf(const char* fmt, ...) {
  char line[512];
  int n = std::snprintf(line, sizeof line, "<6>init: ");
  va_list ap;
  va_start(ap, fmt);
  n += std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n), fmt, ap);
  va_end(ap);
  if (n > static_cast<int>(sizeof line) - 2) n = sizeof line - 2;
  line[n++] = '\n';
  if (kmsg >= 0) {
    (void)!write(kmsg, line, static_cast<size_t>(n));
  } else {
    (void)!write(STDERR_FILENO, line + 3, static_cast<size_t>(n - 3));
  }
}

void mountAll() {
  guest_boot::mountBoot([](const char* target, int err) { logf("mount %s: %s", target, std::strerror(err)); });
}

// onHyperV: the hypervisor's CPUID signature (leaf 0x40000000) says
// "Microsoft Hv". Elsewhere the Hyper-V drivers (hv_*) are not loaded: they
// would only fail with ENODEV.
bool onHyperV() {
  unsigned a, b, c, d;
  __cpuid(0x40000000, a, b, c, d);
  char sig[13];
  std::memcpy(sig, &b, 4);
  std::memcpy(sig + 4, &c, 4);
  std::memcpy(sig + 8, &d, 4);
  sig[12] = '\0';
  return std::strcmp(sig, "Microsoft Hv") == 0;
}

// loadModules loads the modules listed in <dir>/<file> in order.
void loadModules(const std::string& dir, const char* file) {
  bool hyperv = onHyperV();
  FILE* list = std::fopen((dir + "/" + file).c_str(), "re");
  if (!list) {
    logf("no %s/%s: loading no modules", dir.c_str(), file);
    return;
  }
  char rel[512];
  int loaded = 0;
  while (std::fgets(rel, sizeof rel, list)) {
    rel[std::strcspn(rel, "\n")] = '\0';
    if (!rel[0]) continue;
    const char* base = std::strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (!hyperv && std::strncmp(base, "hv_", 3) == 0) continue;
    std::string path = dir + "/" + rel;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
      logf("module %s: %s", rel, std::strerror(errno));
    } else {
      ++loaded;
    }
    if (fd >= 0) close(fd);
  }
  std::fclose(list);
  logf("loaded %d modules from %s (hyper-v: %s)", loaded, file, hyperv ? "yes" : "no");
}

// kModulesLoading exists while the second list loads (gcs waits for it to
// go before it mounts or plugs anything).
constexpr const char* kModulesLoading = "/run/gcs-modules.loading";

// loadAllModules: the boot list now; the rest in a child process, so the
// agent starts meanwhile.
void loadAllModules() {
  utsname u{};
  uname(&u);
  std::string dir = std::string("/lib/modules/") + u.release;
  loadModules(dir, "load-order.boot");
  if (access((dir + "/load-order").c_str(), R_OK) != 0) return;
  int marker = open(kModulesLoading, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (marker >= 0) close(marker);
  pid_t child = fork();
  if (child == 0) {
    loadModules(dir, "load-order");
    unlink(kModulesLoading);
    _exit(0);
  }
  if (child < 0) {  // no child: load them here
    loadModules(dir, "load-order");
    unlink(kModulesLoading);
  }
}

void seedEntropy(unsigned port) {
  int fd = guest_boot::dialHost(port);
  if (fd < 0) {
    logf("entropy: vsock port %u: %s", port, std::strerror(errno));
    return;
  }
  // rand_pool_info ends in a flexible array: the 512 bytes follow it.
  alignas(rand_pool_info) unsigned char buf[sizeof(rand_pool_info) + 512] = {};
  auto* info = reinterpret_cast<rand_pool_info*>(buf);
  unsigned char* bytes = buf + sizeof(rand_pool_info);
  size_t got = 0;
  while (got < 512) {
    ssize_t n = read(fd, bytes + got, 512 - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  info->entropy_count = static_cast<int>(got * 8);
  info->buf_size = static_cast<int>(got);
  int random = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (random < 0 || ioctl(random, RNDADDENTROPY, info) < 0) {
    logf("entropy: crediting %zu bytes: %s", got, std::strerror(errno));
  } else {
    logf("entropy: %zu bytes from vsock port %u", got, port);
  }
  if (random >= 0) close(random);
}

}  // namespace

int main(int argc, char** argv) {
  mountAll();
  kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  int i = 1;
  long entropyPort = -1;
  if (i + 1 < argc && std::strcmp(argv[i], "-e") == 0) {
    char* end = nullptr;
    entropyPort = std::strtol(argv[i + 1], &end, 10);
    if (*end || entropyPort < 0 || entropyPort > 0xffffffffl) entropyPort = -1;
    i += 2;
  }
  if (i < argc && std::strcmp(argv[i], "--") == 0) ++i;
  setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
  loadAllModules();
  if (entropyPort >= 0) seedEntropy(static_cast<unsigned>(entropyPort));
  if (i >= argc) {
    logf("no command to run: usage: init [-e PORT] CMD [ARGS...]");
  } else {
    execv(argv[i], argv + i);
    logf("exec %s: %s", argv[i], std::strerror(errno));
  }
  // PID 1 must not exit (the kernel would panic without saying why here).
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}
