// The guest image's tools: the cpio is what an independent reader (busybox
// cpio) sees, byte-identical for the same inputs; the module closure loads
// dependencies first; a bzImage gives up its payload or a precise error.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/guest_image/bzimage.h"
#include "tools/guest_image/cpio.h"
#include "tools/guest_image/io.h"
#include "tools/guest_image/modules.h"

namespace hcsshim::guest_image {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string runfile(const std::string& rel) { return std::string(std::getenv("TEST_SRCDIR")) + "/" + rel; }

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << cmd;
  return out;
}

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void write(const std::string& name, const std::string& data) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << data;
  }
  std::string dir_;
};

CpioArchive sample(bool reversed) {
  CpioArchive a;
  std::vector<std::pair<std::string, CpioEntry>> e = {
      {"/bin/tool", CpioEntry{.mode = 0755, .data = "#!/bin/sh\necho tool\n"}},
      {"/etc/motd", CpioEntry{.data = "hello\n"}},
      {"/bin/sh", CpioEntry{.kind = CpioEntry::Kind::kSymlink, .mode = 0777, .data = "busybox"}},
      {"/proc", CpioEntry{.kind = CpioEntry::Kind::kDir, .mode = 0555}},
      {"/dev/console", CpioEntry{.kind = CpioEntry::Kind::kCharDev, .mode = 0600, .rdevMajor = 5, .rdevMinor = 1}},
      {"/a/b/c/deep", CpioEntry{.data = std::string(5, 'x')}},  // lengths that need padding
  };
  if (reversed) std::reverse(e.begin(), e.end());
  for (auto& [p, entry] : e) EXPECT_TRUE(a.add(p, entry).ok()) << p;
  return a;
}

TEST_F(ImageTest, CpioIsWhatBusyboxCpioReads) {
  std::string bytes = sample(false).serialise();
  write("a.cpio", bytes);
  std::string list = run("cd " + dir_ + " && busybox cpio -t < a.cpio 2>/dev/null");
  EXPECT_EQ(list, "a\na/b\na/b/c\na/b/c/deep\nbin\nbin/sh\nbin/tool\ndev\ndev/console\netc\netc/motd\nproc\n");
  fs::create_directories(dir_ + "/x");
  run("cd " + dir_ + "/x && busybox cpio -i -d < ../a.cpio 2>/dev/null");
  EXPECT_EQ(*readWhole(dir_ + "/x/etc/motd"), "hello\n");
  EXPECT_EQ(*readWhole(dir_ + "/x/a/b/c/deep"), "xxxxx");
  EXPECT_EQ(fs::read_symlink(dir_ + "/x/bin/sh"), "busybox");
  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/x/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(stat((dir_ + "/x/proc").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0555u);
}

TEST_F(ImageTest, CpioBytesDependOnlyOnEntries) {
  EXPECT_EQ(sample(false).serialise(), sample(true).serialise());
  std::string b = sample(false).serialise();
  EXPECT_EQ(b.size() % 4, 0u);
  EXPECT_EQ(b.substr(0, 6), "070701");
  EXPECT_THAT(b, HasSubstr("TRAILER!!!"));
}

TEST_F(ImageTest, CpioRefusesBadPaths) {
  CpioArchive a;
  for (std::string bad : {"relative", "/", "/a/../b", "/a//b", "/a/./b", "/trailing/"}) {
    Status st = a.add(bad, CpioEntry{.data = "x"});
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad;
  }
  ASSERT_TRUE(a.add("/f", CpioEntry{.data = "x"}).ok());
  EXPECT_THAT(a.add("/f", CpioEntry{.data = "y"}).message(), HasSubstr("added twice"));
  EXPECT_THAT(a.add("/f/under", CpioEntry{.data = "y"}).message(), HasSubstr("/f is not a directory"));
}

TEST_F(ImageTest, MkinitrdIsReproducible) {
  write("one", "first file\n");
  write("two", std::string(10000, 'z'));
  chmod((dir_ + "/two").c_str(), 0755);
  std::string tool = runfile("hcsshim_cpp/tools/guest_image/mkinitrd");
  run(tool + " --out " + dir_ + "/a.img --file /bin/two=" + dir_ + "/two --file /etc/one=" + dir_ +
      "/one --dir /proc --symlink /bin/sh=busybox --chardev /dev/console=5:1");
  // Other mtimes, other flag order: the same bytes.
  run("touch -d 2001-01-01 " + dir_ + "/one " + dir_ + "/two");
  run(tool + " --symlink /bin/sh=busybox --chardev /dev/console=5:1 --dir /proc --file /etc/one=" + dir_ +
      "/one --file /bin/two=" + dir_ + "/two --out " + dir_ + "/b.img");
  EXPECT_EQ(*readWhole(dir_ + "/a.img"), *readWhole(dir_ + "/b.img"));
  std::string list = run("busybox cpio -tv < " + dir_ + "/a.img 2>/dev/null");
  EXPECT_THAT(list, HasSubstr("-rwxr-xr-x"));  // the executable's mode
  EXPECT_THAT(list, HasSubstr("bin/two"));
}

TEST_F(ImageTest, MkinitrdFailsWithoutLeavingAnImage) {
  std::string tool = runfile("hcsshim_cpp/tools/guest_image/mkinitrd");
  int rc = std::system((tool + " --out " + dir_ + "/c.img --file /x=" + dir_ + "/missing 2>" + dir_ + "/err").c_str());
  EXPECT_NE(rc, 0);
  EXPECT_FALSE(fs::exists(dir_ + "/c.img"));
  EXPECT_THAT(*readWhole(dir_ + "/err"), HasSubstr("/missing"));
}

TEST_F(ImageTest, ModuleClosureLoadsDependenciesFirst) {
  std::string mods = runfile("guest_kernel/modules");
  auto order = moduleClosure(mods, {"ext4", "9p", "vmw_vsock_virtio_transport"});
  ASSERT_TRUE(order.ok()) << order.status().toString();
  std::vector<std::string> names;
  for (const auto& m : *order) names.push_back(m.name);
  auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  ASSERT_LT(pos("ext4"), static_cast<long>(names.size()));
  EXPECT_LT(pos("jbd2"), pos("ext4"));
  EXPECT_LT(pos("mbcache"), pos("ext4"));
  EXPECT_LT(pos("9pnet"), pos("9p"));
  EXPECT_LT(pos("vsock"), pos("vmw_vsock_virtio_transport"));
  EXPECT_LT(pos("vmw_vsock_virtio_transport_common"), pos("vmw_vsock_virtio_transport"));
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), names.size());
  auto missing = moduleClosure(mods, {"no_such_module"});
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no_such_module"));
}

TEST_F(ImageTest, ModinfoRefusesWhatIsNotAModule) {
  EXPECT_EQ(modinfoDepends("not an elf").status().code(), Code::kInvalidArgument);
  std::string elf(64, '\0');
  elf.replace(0, 6, "\x7f" "ELF\x02\x01");
  elf[0x28] = 0x7f;  // section table far outside the file
  elf[0x3a] = 64;
  elf[0x3c] = 3;
  elf[0x3e] = 1;
  EXPECT_EQ(modinfoDepends(elf).status().code(), Code::kInvalidArgument);
}

TEST_F(ImageTest, BzImagePayloadIsTheCompressedKernel) {
  auto image = readWhole(runfile("guest_kernel/vmlinuz"));
  ASSERT_TRUE(image.ok());
  auto p = bzImagePayload(*image);
  ASSERT_TRUE(p.ok()) << p.status().toString();
  EXPECT_EQ(p->format, "xz");  // Debian 12's amd64 kernels: CONFIG_KERNEL_XZ
  EXPECT_GT(p->bytes.size(), 1000000u);
  EXPECT_THAT(bzImagePayload(image->substr(0, 0x300)).status().message(), HasSubstr("outside"));
  EXPECT_THAT(bzImagePayload(std::string(0x300, 'x')).status().message(), HasSubstr("HdrS"));
  EXPECT_THAT(bzImagePayload("short").status().message(), HasSubstr("too short"));
}

}  // namespace
}  // namespace hcsshim::guest_image
