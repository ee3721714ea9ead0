// The layer store: one image per layer content, shared by owners and gone
// with the last; scratch disks that e2fsck accepts, sparse.
#include "platforms/linux/layer_store.h"

#include <sys/stat.h>
#include <fcntl.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/runtime/real_runtime.h"

namespace hcsshim::platforms {
namespace {

namespace fs = std::filesystem;

int sh(const std::string& cmd) { return WEXITSTATUS(system((cmd + " >/dev/null 2>&1").c_str())); }

class LayerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::move(*runtime::RealRuntime::create("layer-store-test"));
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/layer/bin");
    std::ofstream(dir_ + "/layer/bin/tool") << "#!/bin/sh\necho tool\n";
    fs::create_symlink("tool", dir_ + "/layer/bin/alias");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_;
};

TEST_F(LayerStoreTest, OneImagePerContentSharedByOwnersAndGoneWithTheLast) {
  LayerStore store(*rt_, dir_ + "/store");
  auto a = store.acquire(dir_ + "/layer", "ns/a");
  ASSERT_TRUE(a.ok()) << a.status().toString();
  auto b = store.acquire(dir_ + "/layer", "ns/b");
  ASSERT_TRUE(b.ok()) << b.status().toString();
  EXPECT_EQ(*a, *b) << "the same layer, one image";
  EXPECT_EQ(sh("e2fsck -fn " + *a), 0);
  struct stat st{};
  ASSERT_EQ(::stat(a->c_str(), &st), 0);
  EXPECT_EQ((st.st_size - 512) % (2 << 20), 0) << "padded for virtio-pmem, then the VHD footer";
  // A changed layer is another image.
  struct timespec times[2] = {{0, UTIME_OMIT}, {1234567, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ + "/layer/bin/tool").c_str(), times, 0), 0);
  auto changed = store.acquire(dir_ + "/layer", "ns/c");
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(*changed, *a);
  ASSERT_TRUE(store.releaseAll("ns/a").ok());
  EXPECT_TRUE(fs::exists(*a)) << "b still holds it";
  ASSERT_TRUE(store.releaseAll("ns/b").ok());
  EXPECT_FALSE(fs::exists(*a)) << "gone with its last owner";
  EXPECT_TRUE(fs::exists(*changed));
  ASSERT_TRUE(store.releaseAll("ns/c").ok());
  EXPECT_FALSE(fs::exists(*changed));
  EXPECT_THAT(store.acquire(dir_ + "/no-such-layer", "ns/d").status().message(), ::testing::HasSubstr("no-such-layer"));
}

TEST_F(LayerStoreTest, ScratchDisksAreEmptySparseExt4) {
  LayerStore store(*rt_, dir_ + "/store");
  uint64_t bytes = uint64_t{1} << 30;
  std::vector<std::string> disks;
  for (const char* owner : {"ns/t1", "ns/t2"}) {
    auto disk = runtime::blockOn(rt_->loop(), store.makeScratch(owner, bytes));
    ASSERT_TRUE(disk.ok()) << disk.status().toString();
    struct stat s{};
    ASSERT_EQ(::stat(disk->c_str(), &s), 0);
    EXPECT_EQ(static_cast<uint64_t>(s.st_size), bytes);
    EXPECT_LT(static_cast<uint64_t>(s.st_blocks) * 512, bytes / 8) << "sparse: only metadata is written";
    EXPECT_EQ(sh("e2fsck -fn " + *disk), 0);
    disks.push_back(*disk);
  }
  EXPECT_NE(disks[0], disks[1]) << "one scratch per task";
  EXPECT_TRUE(fs::exists(dir_ + "/store/scratch-" + std::to_string(bytes) + ".img")) << "the pristine copy is kept";
  ASSERT_TRUE(store.releaseAll("ns/t1").ok());
  EXPECT_FALSE(fs::exists(disks[0])) << "the scratch goes with its task";
  EXPECT_TRUE(fs::exists(disks[1]));
}

}  // namespace
}  // namespace hcsshim::platforms
