// The tar reader on archives made member by member (tar_builder) and by
// GNU tar itself: every kind, the extensions, and hostile headers.
#include "src/tar/tar_reader.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/tar/testing/tar_builder.h"

namespace hcsshim::tar {
namespace {

using ::testing::HasSubstr;
using testing::Member;

// An fd holding `bytes`, at offset 0.
int memfdOf(const std::string& bytes) {
  int fd = memfd_create("tar", MFD_CLOEXEC);
  EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

struct Read {
  std::vector<TarEntry> entries;
  std::vector<std::string> data;
  Status status;
};

Read readAll(const std::string& bytes) {
  int fd = memfdOf(bytes);
  TarReader r(fd);
  Read out;
  for (;;) {
    TarEntry e;
    auto more = r.next(&e);
    if (!more.ok()) {
      out.status = more.status();
      break;
    }
    if (!*more) break;
    std::string d;
    char buf[700];
    for (;;) {
      auto n = r.read(buf, sizeof buf);
      if (!n.ok()) {
        out.status = n.status();
        break;
      }
      if (*n == 0) break;
      d.append(buf, *n);
    }
    out.entries.push_back(e);
    out.data.push_back(d);
    if (!out.status.ok()) break;
  }
  ::close(fd);
  return out;
}

TEST(TarReaderTest, EveryKindWithItsFields) {
  std::string a = testing::member({.name = "dir/", .type = '5', .mode = 0750, .uid = 1000, .gid = 100});
  a += testing::member({.name = "dir/file", .mode = 04755, .data = std::string(1300, 'f')});
  a += testing::member({.name = "dir/link", .type = '2', .link = "file"});
  a += testing::member({.name = "dir/hard", .type = '1', .link = "dir/file"});
  a += testing::member({.name = "dev/null", .type = '3', .devMajor = 1, .devMinor = 3});
  a += testing::member({.name = "dev/sda", .type = '4', .devMajor = 8, .devMinor = 0});
  a += testing::member({.name = "pipe", .type = '6'});
  a += testing::end();
  Read r = readAll(a);
  ASSERT_TRUE(r.status.ok()) << r.status.toString();
  ASSERT_EQ(r.entries.size(), 7u);
  EXPECT_EQ(r.entries[0].type, EntryType::kDirectory);
  EXPECT_EQ(r.entries[0].mode, 0750u);
  EXPECT_EQ(r.entries[0].uid, 1000u);
  EXPECT_EQ(r.entries[0].gid, 100u);
  EXPECT_EQ(r.entries[1].mode, 04755u);
  EXPECT_EQ(r.entries[1].size, 1300u);
  EXPECT_EQ(r.data[1], std::string(1300, 'f'));
  EXPECT_EQ(r.entries[1].mtime.sec, 1700000000);
  EXPECT_EQ(r.entries[2].type, EntryType::kSymlink);
  EXPECT_EQ(r.entries[2].linkTarget, "file");
  EXPECT_EQ(r.entries[3].type, EntryType::kHardLink);
  EXPECT_EQ(r.entries[4].type, EntryType::kCharDevice);
  EXPECT_EQ(r.entries[4].devMinor, 3u);
  EXPECT_EQ(r.entries[5].type, EntryType::kBlockDevice);
  EXPECT_EQ(r.entries[5].devMajor, 8u);
  EXPECT_EQ(r.entries[6].type, EntryType::kFifo);
}

TEST(TarReaderTest, PaxAndGnuExtensions) {
  std::string longName = std::string(150, 'n') + "/" + std::string(120, 'm');
  std::string a = testing::member({.name = longName, .data = "gnu", .gnuLongName = true});
  a += testing::member({.name = "short",
                        .data = "pax",
                        .pax = {{"path", longName + "-pax"},
                                {"mtime", "1700000000.123456789"},
                                {"uid", "4000000000"},
                                {"SCHILY.xattr.user.k", "v=with=equals"},
                                {"SCHILY.xattr.security.capability", std::string("\x01\x00\x00\x02", 4)}}});
  a += testing::end();
  Read r = readAll(a);
  ASSERT_TRUE(r.status.ok()) << r.status.toString();
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].path, longName);
  EXPECT_EQ(r.data[0], "gnu");
  EXPECT_EQ(r.entries[1].path, longName + "-pax");
  EXPECT_EQ(r.entries[1].mtime.sec, 1700000000);
  EXPECT_EQ(r.entries[1].mtime.nsec, 123456789u);
  EXPECT_EQ(r.entries[1].uid, 4000000000u);
  EXPECT_EQ(r.entries[1].xattrs.at("user.k"), "v=with=equals");
  EXPECT_EQ(r.entries[1].xattrs.at("security.capability"), std::string("\x01\x00\x00\x02", 4));
}

TEST(TarReaderTest, Base256Numbers) {
  std::string h = testing::header({.name = "big", .data = ""});
  // uid 2^32 + 5 in GNU's base-256 form.
  std::string uid(8, '\0');
  uid[0] = static_cast<char>(0x80);
  uid[3] = 1;
  uid[7] = 5;
  h.replace(108, 8, uid);
  testing::setChecksum(h);
  Read r = readAll(h + testing::end());
  ASSERT_TRUE(r.status.ok()) << r.status.toString();
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].uid, static_cast<uint32_t>((uint64_t{1} << 32) + 5));  // truncated to 32 bits by the caller's type
}

TEST(TarReaderTest, HostileHeadersAreErrorsNamingWhere) {
  std::string good = testing::member({.name = "f", .data = std::string(2000, 'x')});
  // A flipped byte: the checksum no longer matches.
  std::string bad = good;
  bad[10] ^= 1;
  Read r = readAll(bad);
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
  EXPECT_THAT(r.status.message(), HasSubstr("bad header checksum at offset 0"));
  // Truncated in the data.
  r = readAll(good.substr(0, 1200));
  EXPECT_EQ(r.status.code(), Code::kDataLoss);
  EXPECT_THAT(r.status.message(), HasSubstr("member f"));
  // Truncated in a header.
  r = readAll(good + good.substr(0, 100));
  EXPECT_EQ(r.status.code(), Code::kDataLoss);
  // A pax record whose length runs past its header.
  std::string pax = testing::member({.name = "p", .pax = {{"path", "x"}}});
  pax[512] = '9';  // "9 path=x\n" claims more than there is... and then some
  pax[513] = '9';
  r = readAll(pax + testing::end());
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument) << r.status.toString();
  // An extension header claiming 2 GiB.
  r = readAll(testing::header({.name = "x", .type = 'x', .sizeField = int64_t{2} << 30}) + testing::end());
  EXPECT_THAT(r.status.message(), HasSubstr("at most 1 MiB"));
  // A kind nobody stores in a layer.
  r = readAll(testing::member({.name = "m", .type = 'M'}) + testing::end());
  EXPECT_EQ(r.status.code(), Code::kUnimplemented);
  EXPECT_THAT(r.status.message(), HasSubstr("member m"));
  // Not a number.
  std::string nan = testing::header({.name = "n"});
  std::memcpy(nan.data() + 100, "12x4567", 7);
  testing::setChecksum(nan);
  r = readAll(nan + testing::end());
  EXPECT_THAT(r.status.message(), HasSubstr("mode is not an octal number"));
}

// GNU tar's own archives, old-GNU sparse members and pax sparse 1.0 alike.
TEST(TarReaderTest, GnuTarSparseFiles) {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/sparse";
  ASSERT_EQ(system(("rm -rf " + dir + " && mkdir -p " + dir + "/src && cd " + dir +
                    "/src && printf head > s && truncate -s 3000000 s && printf tail >> s").c_str()),
            0);
  for (const char* format : {"gnu", "posix"}) {
    std::string tarFile = dir + "/" + format + ".tar";
    ASSERT_EQ(system(("tar --format=" + std::string(format) + " --sparse -C " + dir + "/src -cf " + tarFile + " s").c_str()), 0);
    FILE* f = fopen(tarFile.c_str(), "rb");
    ASSERT_TRUE(f);
    std::string bytes;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
    fclose(f);
    Read r = readAll(bytes);
    ASSERT_TRUE(r.status.ok()) << format << ": " << r.status.toString();
    ASSERT_EQ(r.entries.size(), 1u) << format;
    EXPECT_EQ(r.entries[0].path, "s") << format;
    EXPECT_EQ(r.entries[0].size, 3000004u) << format;
    ASSERT_FALSE(r.entries[0].sparse.empty()) << format << ": tar stored it whole";
    uint64_t stored = 0;
    for (auto& [o, len] : r.entries[0].sparse) stored += len;
    EXPECT_EQ(r.data[0].size(), stored) << format;
    EXPECT_EQ(r.data[0].substr(0, 4), "head") << format;
    EXPECT_EQ(r.data[0].substr(r.data[0].size() - 4), "tail") << format;
    EXPECT_LT(stored, 100000u) << format;
  }
}

}  // namespace
}  // namespace hcsshim::tar
