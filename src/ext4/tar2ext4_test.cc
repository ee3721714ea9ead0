// tar2ext4 checked by tools we did not write: GNU tar makes the archives
// from real trees, e2fsck checks every image, debugfs and a read-only loop
// mount must show what the tree held, overlayfs must honour the converted
// whiteouts, veritysetup must accept the hash tree. Bad archives go through
// the command line: a precise error, exit 1, no image left behind.
#include "src/ext4/tar2ext4.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/sha256.h"
#include "src/tar/testing/tar_builder.h"

namespace hcsshim::ext4 {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::pair<int, std::string> sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string readAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string tool() {
  const char* srcdir = getenv("TEST_SRCDIR");
  return std::string(srcdir ? srcdir : ".") + "/hcsshim_cpp/tools/tar2ext4/tar2ext4";
}

class Tar2Ext4Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    fs::remove_all(dir_);
  }
  // tarOf: GNU tar's posix archive of `src` (xattrs, sparse, ns times).
  std::string tarOf(const std::string& src) {
    std::string out = dir_ + "/" + fs::path(src).filename().string() + ".tar";
    auto [code, text] = sh("tar --format=posix --xattrs --xattrs-include='*' --sparse --numeric-owner -C " + src +
                           " -cf " + out + " .");
    EXPECT_EQ(code, 0) << text;
    return out;
  }
  std::pair<int, std::string> convertCli(const std::string& tar, const std::string& image, const std::string& flags) {
    return sh(tool() + " -i " + tar + " -o " + image + " " + flags);
  }
  std::string mountImage(const std::string& image) {
    std::string at = dir_ + "/mnt" + std::to_string(mounts_.size());
    fs::create_directories(at);
    auto [code, out] = sh("mount -o loop,ro -t ext4 " + image + " " + at);
    EXPECT_EQ(code, 0) << out;
    if (code == 0) mounts_.push_back(at);
    return at;
  }
  bool root() const { return geteuid() == 0; }
  void checkEveryMemberKind(const std::string& src, const std::string& tar, const std::string& flags);
  std::string dir_;
  std::vector<std::string> mounts_;
};

// One of every member kind, with owners, modes, times and xattrs.
std::string makeTree(const std::string& src) {
  std::string s = "set -e; mkdir -p " + src + "; cd " + src + "; "
                  "mkdir -p d/sub e; chmod 0750 d; chown 1234:5678 d; "
                  "printf hello > a.txt; : > empty; printf x > one; head -c 136 /dev/urandom > inline136; "
                  "head -c 5000 /dev/urandom > d/five; head -c 3145728 /dev/urandom > big; chmod 4755 big; "
                  "printf head > sparse; truncate -s 20000000 sparse; printf tail >> sparse; "
                  "truncate -s 5G huge; printf end >> huge; "
                  "ln -s a.txt short; ln -s " + std::string(59, 's') + " fast59; ln -s " + std::string(60, 't') + " slow60; "
                  "ln -s /" + std::string(300, 'l') + " long; ln a.txt d/hard; ln a.txt d/sub/hard2; "
                  "mkfifo fifo; mknod chr c 1 3; mknod blk b 259 300000; "
                  "mkdir -p " + std::string(200, 'n') + "/" + std::string(200, 'm') + "; "
                  "printf deep > " + std::string(200, 'n') + "/" + std::string(200, 'm') + "/" + std::string(200, 'f') + "; "
                  "setfattr -n user.color -v blue a.txt; setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= big; "
                  "setfattr -n user.large -v " + std::string(600, 'v') + " d/sub; "
                  "touch -h -d @1614834367.123456789 a.txt short d; chown -h 42:43 short";
  return s;
}

// What a file is, as lstat and the xattr calls see it: the same string
// for the source tree and the mounted image means they agree.
std::string describe(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) return "missing";
  std::ostringstream o;
  o << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid << " links " << st.st_nlink;
  if (S_ISREG(st.st_mode)) {
    o << " size " << st.st_size;
    if (st.st_size < (64 << 20)) {
      o << " sha " << sha256Hex(readAll(path));
    } else {  // a huge sparse file: its last bytes (past 4 GiB: i_size_high, a far extent)
      std::ifstream f(path, std::ios::binary);
      f.seekg(st.st_size - 16);
      std::string tail(16, '\0');
      f.read(tail.data(), 16);
      o << " tail " << sha256Hex(tail);
    }
  }
  if (S_ISLNK(st.st_mode)) o << " -> " << fs::read_symlink(path).string();
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) o << " dev " << major(st.st_rdev) << ":" << minor(st.st_rdev);
  if (!S_ISDIR(st.st_mode)) o << " mtime " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
  char names[4096];
  ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
  std::vector<std::string> list;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) list.push_back(names + i);
  std::sort(list.begin(), list.end());
  for (const auto& x : list) {
    char v[4096];
    ssize_t len = ::lgetxattr(path.c_str(), x.c_str(), v, sizeof v);
    o << " " << x << "=" << sha256Hex(std::string(v, std::max<ssize_t>(len, 0)));
  }
  return o.str();
}

TEST_F(Tar2Ext4Test, EveryMemberKindPassesE2fsckAndReadsBackAsTheTreeHeldIt) {
  if (!root()) GTEST_SKIP() << "needs root (mknod, chown, loop mounts)";
  std::string src = dir_ + "/src";
  auto [made, why] = sh(makeTree(src));
  ASSERT_EQ(made, 0) << why;
  std::string tar = tarOf(src);
  for (const char* flags : {"-vhd", "-vhd -inline"}) {
    SCOPED_TRACE(flags);
    checkEveryMemberKind(src, tar, flags);
  }
}

void Tar2Ext4Test::checkEveryMemberKind(const std::string& src, const std::string& tar, const std::string& flags) {
  std::string image = dir_ + "/layer" + std::to_string(mounts_.size()) + ".vhd";
  auto [code, out] = convertCli(tar, image, flags);
  ASSERT_EQ(code, 0) << out;
  auto [fsck, report] = sh("e2fsck -fn " + image);
  EXPECT_EQ(fsck, 0) << report;
  // debugfs, e2fsprogs' own reader: types, modes, owners, sizes, links,
  // fast symlink targets and xattrs as the tree has them.
  auto [dbg, stat] = sh("debugfs -R 'stat /short' " + image);
  EXPECT_THAT(stat, HasSubstr("Type: symlink"));
  EXPECT_THAT(stat, HasSubstr("User:    42   Group:    43"));
  EXPECT_THAT(stat, HasSubstr("Fast link dest: \"a.txt\""));
  EXPECT_THAT(stat, HasSubstr("mtime: 0x60406abf:1d6f3454"));  // 1614834367.123456789 (2021-03-04 05:06:07 UTC)
  std::tie(dbg, stat) = sh("debugfs -R 'stat /a.txt' " + image);
  EXPECT_THAT(stat, HasSubstr("Links: 3"));
  EXPECT_THAT(stat, HasSubstr("user.color (4) = \"blue\""));
  std::tie(dbg, stat) = sh("debugfs -R 'stat /inline136' " + image);
  if (flags.find("-inline") != std::string::npos) {
    EXPECT_THAT(stat, HasSubstr("Size of inline data: 136")) << "136 bytes fit the inode";
  } else {
    EXPECT_THAT(stat, HasSubstr("EXTENTS:"));
  }
  std::tie(dbg, stat) = sh("debugfs -R 'stat /blk' " + image);
  EXPECT_THAT(stat, HasSubstr("Type: block special"));
  std::tie(dbg, stat) = sh("debugfs -R 'ls -l /d' " + image);
  EXPECT_THAT(stat, ::testing::ContainsRegex("40750 \\(2\\) +1234 +5678 +4096 .* \\."));
  EXPECT_THAT(stat, ::testing::ContainsRegex("100644 \\(1\\) +0 +0 +5000 .* five"));
  std::tie(dbg, stat) = sh("debugfs -R 'ea_list /d/sub' " + image);
  EXPECT_THAT(stat, HasSubstr("user.large (600)"));
  std::tie(dbg, stat) = sh("debugfs -R 'cat /d/five' " + image + " 2>/dev/null | sha256sum");
  EXPECT_THAT(stat, HasSubstr(sha256Hex(readAll(src + "/d/five"))));
  // The kernel's view of every file, against the tree's.
  std::string mnt = mountImage(image);
  int files = 0;
  for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = it->path().lexically_relative(src).string();
    EXPECT_EQ(describe(mnt + "/" + rel), describe(it->path().string())) << rel;
    ++files;
  }
  EXPECT_GE(files, 20);
  struct stat sparse{};
  ASSERT_EQ(::stat((mnt + "/sparse").c_str(), &sparse), 0);
  EXPECT_LT(sparse.st_blocks * 512, 100000) << "the hole is a hole in the image too";
}

// A containerd overlay snapshot (whiteouts already 0:0 devices, opaque
// directories marked) converted from the directory itself.
TEST_F(Tar2Ext4Test, ADirectoryTreeConvertsAsItIs) {
  if (!root()) GTEST_SKIP() << "needs root (mknod, trusted xattrs, loop mounts)";
  std::string src = dir_ + "/src";
  auto [made, why] = sh(makeTree(src) + "; mknod " + src + "/d/gone c 0 0; setfattr -n trusted.overlay.opaque -v y " + src + "/e");
  ASSERT_EQ(made, 0) << why;
  std::string one = dir_ + "/dir1.vhd", two = dir_ + "/dir2.vhd";
  auto [code, out] = sh(tool() + " -dir " + src + " -o " + one + " -vhd");
  ASSERT_EQ(code, 0) << out;
  ASSERT_EQ(sh(tool() + " -dir " + src + " -o " + two + " -vhd").first, 0);
  EXPECT_TRUE(readAll(one) == readAll(two)) << "the same tree, the same bytes";
  auto [fsck, report] = sh("e2fsck -fn " + one);
  EXPECT_EQ(fsck, 0) << report;
  std::string mnt = mountImage(one);
  for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = it->path().lexically_relative(src).string();
    EXPECT_EQ(describe(mnt + "/" + rel), describe(it->path().string())) << rel;
  }
  EXPECT_THAT(describe(mnt + "/e"), HasSubstr("trusted.overlay.opaque="));
  EXPECT_EQ(sh(tool() + " -dir " + dir_ + "/nothing -o " + dir_ + "/x.vhd").first, 1);
  EXPECT_FALSE(fs::exists(dir_ + "/x.vhd"));
}

TEST_F(Tar2Ext4Test, SameTarSameBytesAndAFooterThatParses) {
  std::string src = dir_ + "/src";
  ASSERT_EQ(sh("mkdir -p " + src + "/x && printf abc > " + src + "/x/f && ln -s f " + src + "/x/l").first, 0);
  std::string tar = tarOf(src);
  // A maximum size with room for 1024 groups: 8 descriptor blocks, 1 filled.
  auto [big, bigOut] = convertCli(tar, dir_ + "/big.vhd", "-max-size 137438953472");
  ASSERT_EQ(big, 0) << bigOut;
  auto [bigFsck, bigReport] = sh("e2fsck -fn " + dir_ + "/big.vhd");
  EXPECT_EQ(bigFsck, 0) << bigReport;
  ASSERT_EQ(convertCli(tar, dir_ + "/one.vhd", "-vhd -inline").first, 0);
  ASSERT_EQ(convertCli(tar, dir_ + "/two.vhd", "-vhd -inline").first, 0);
  std::string one = readAll(dir_ + "/one.vhd");
  EXPECT_TRUE(one == readAll(dir_ + "/two.vhd")) << "same tar, same bytes";
  auto [fsck, report] = sh("e2fsck -fn " + dir_ + "/one.vhd");
  EXPECT_EQ(fsck, 0) << report;
  EXPECT_THAT(sh("debugfs -R 'cat /x/f' " + dir_ + "/one.vhd").second, HasSubstr("abc"));
  ASSERT_GE(one.size(), 512u + 4096u);
  std::string f = one.substr(one.size() - 512);
  auto be = [&](size_t off, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v << 8 | static_cast<uint8_t>(f[off + i]);
    return v;
  };
  EXPECT_EQ(f.substr(0, 8), "conectix");
  EXPECT_EQ(be(60, 4), 2u) << "fixed disk";
  EXPECT_EQ(be(48, 8), one.size() - 512) << "current size: everything before the footer";
  EXPECT_EQ(be(16, 8), UINT64_MAX);
  uint32_t sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += (i >= 64 && i < 68) ? 0 : static_cast<uint8_t>(f[i]);
  EXPECT_EQ(be(64, 4), static_cast<uint32_t>(~sum));
  // QEMU's vpc driver checks the cookie and the checksum; with geometry 0 it
  // takes the size from the footer's current size when told to.
  if (sh("command -v qemu-img").first != 0) GTEST_SKIP() << "qemu-img (qemu-utils) not installed: run tools/setup";
  auto [info, text] = sh("qemu-img info --image-opts driver=vpc,force_size_calc=current_size,file.filename=" + dir_ + "/one.vhd");
  EXPECT_EQ(info, 0) << text;
  EXPECT_THAT(text, HasSubstr("file format: vpc"));
  EXPECT_THAT(text, HasSubstr("(" + std::to_string(one.size() - 512) + " bytes)"));
}

TEST_F(Tar2Ext4Test, VeritysetupAcceptsTheHashTree) {
  if (sh("command -v veritysetup").first != 0) GTEST_SKIP() << "veritysetup (cryptsetup-bin) not installed: run tools/setup";
  std::string src = dir_ + "/src";
  ASSERT_EQ(sh("mkdir -p " + src + " && head -c 9000000 /dev/urandom > " + src + "/blob").first, 0);
  std::string image = dir_ + "/v.vhd";
  auto [code, rootHash] = convertCli(tarOf(src), image, "-verity -vhd");
  ASSERT_EQ(code, 0) << rootHash;
  rootHash.erase(rootHash.find_last_not_of("\n") + 1);
  ASSERT_EQ(rootHash.size(), 64u) << rootHash;
  auto blocks = sh("debugfs -R stats " + image + " 2>/dev/null | awk '/^Block count/{print $3}'").second;
  uint64_t ext4Bytes = std::stoull(blocks) * 4096;
  auto [ok, text] = sh("veritysetup verify --hash-offset=" + std::to_string(ext4Bytes) + " " + image + " " + image + " " + rootHash);
  EXPECT_EQ(ok, 0) << text;
  // One flipped byte in the data and the tree no longer matches.
  {
    int fd = ::open(image.c_str(), O_RDWR);
    char c = 0;
    ASSERT_EQ(::pread(fd, &c, 1, 4096 * 3), 1);
    c ^= 1;
    ASSERT_EQ(::pwrite(fd, &c, 1, 4096 * 3), 1);
    ::close(fd);
  }
  EXPECT_NE(sh("veritysetup verify --hash-offset=" + std::to_string(ext4Bytes) + " " + image + " " + image + " " + rootHash).first, 0);
}

TEST_F(Tar2Ext4Test, OverlayWhiteoutsHideWhatTheyShould) {
  if (!root()) GTEST_SKIP() << "needs root (loop and overlay mounts)";
  std::string lower = dir_ + "/lower", upper = dir_ + "/upper";
  ASSERT_EQ(sh("set -e; mkdir -p " + lower + "/d " + lower + "/e " + upper + "/e; printf 1 > " + lower + "/gone; printf 2 > " +
               lower + "/d/kept; printf 3 > " + lower + "/e/old; : > " + upper + "/.wh.gone; : > " + upper +
               "/e/.wh..wh..opq; printf 4 > " + upper + "/e/new")
                .first,
            0);
  std::string lowerImg = dir_ + "/lower.vhd", upperImg = dir_ + "/upper.vhd";
  ASSERT_EQ(convertCli(tarOf(lower), lowerImg, "-overlay -vhd").first, 0);
  auto [code, out] = convertCli(tarOf(upper), upperImg, "-overlay -vhd");
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(sh("e2fsck -fn " + upperImg).first, 0);
  std::string l = mountImage(lowerImg), u = mountImage(upperImg);
  struct stat wh{};
  ASSERT_EQ(::lstat((u + "/gone").c_str(), &wh), 0) << "the whiteout is stored under the name it hides";
  EXPECT_TRUE(S_ISCHR(wh.st_mode) && wh.st_rdev == 0);
  EXPECT_FALSE(fs::exists(u + "/.wh.gone"));
  std::string merged = dir_ + "/merged";
  fs::create_directories(merged);
  auto [m, why] = sh("mount -t overlay overlay -o ro,lowerdir=" + u + ":" + l + " " + merged);
  ASSERT_EQ(m, 0) << why;
  mounts_.push_back(merged);
  EXPECT_FALSE(fs::exists(merged + "/gone")) << "whited out";
  EXPECT_TRUE(fs::exists(merged + "/d/kept"));
  EXPECT_FALSE(fs::exists(merged + "/e/old")) << "the opaque directory hides the lower one's files";
  EXPECT_EQ(readAll(merged + "/e/new"), "4");
}

TEST_F(Tar2Ext4Test, BadArchivesAreRefusedNamingTheMemberAndLeaveNoImage) {
  using tar::testing::Member;
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << bytes;
    return dir_ + "/" + name;
  };
  std::string good = tar::testing::member({.name = "ok", .data = "fine"});
  struct Case {
    std::string name, archive, flags, want;
  } cases[] = {
      {"truncated", good + tar::testing::member({.name = "cut", .data = std::string(5000, 'c')}).substr(0, 1500), "",
       "truncated archive: member cut"},
      {"checksum",
       good + [] {
         std::string h = tar::testing::member({.name = "bad"});
         h[0] = 'B';  // after the checksum was computed
         return h;
       }(),
       "", "bad header checksum at offset 1024"},
      {"dotdot", tar::testing::member({.name = "a/../../evil", .data = "x"}) + tar::testing::end(), "", "member a/../../evil"},
      {"absolute", tar::testing::member({.name = "/etc/passwd", .data = "x"}) + tar::testing::end(), "", "member /etc/passwd: an absolute path"},
      {"hardlink-out", good + tar::testing::member({.name = "h", .type = '1', .link = "../../etc/shadow"}) + tar::testing::end(), "",
       "member h: hard link to ../../etc/shadow"},
      {"hardlink-missing", good + tar::testing::member({.name = "h", .type = '1', .link = "nothere"}) + tar::testing::end(), "",
       "hard link to nothere, which does not exist"},
      {"absurd-size", tar::testing::member({.name = "huge", .sizeField = int64_t{200} << 30}), "", "member huge"},
      {"too-many-inodes",
       [] {
         std::string a;
         for (int i = 0; i < 300; ++i) a += tar::testing::member({.name = "f" + std::to_string(i), .data = "z"});
         return a + tar::testing::end();
       }(),
       "-max-size 1048576", "maximum disk size"},
      {"file-over-dir", tar::testing::member({.name = "d/", .type = '5'}) + tar::testing::member({.name = "d", .data = "x"}) +
                            tar::testing::end(),
       "", "member d: d: a directory cannot be replaced by a non-directory"},
  };
  for (const auto& c : cases) {
    std::string image = dir_ + "/" + c.name + ".vhd";
    auto [code, out] = convertCli(write(c.name + ".tar", c.archive), image, c.flags);
    EXPECT_EQ(code, 1) << c.name << ": " << out;
    EXPECT_THAT(out, HasSubstr(c.want)) << c.name;
    EXPECT_FALSE(fs::exists(image)) << c.name << ": a partial image was left";
  }
}

}  // namespace
}  // namespace hcsshim::ext4
