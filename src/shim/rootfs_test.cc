#include "src/shim/rootfs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace hcsshim::shim {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Mounts lcow(const std::string& source, std::vector<std::string> options) {
  Mounts m;
  auto* mount = m.Add();
  mount->set_type("lcow-layer");
  mount->set_source(source);
  for (auto& o : options) mount->add_options(o);
  return m;
}

TEST(LcowLayerDisks, AreTheParentsLayerVhdsTopmostFirstAndTheSandbox) {
  auto d = lcowLayerDisks(lcow("C:\\snap\\9", {"rw", R"(parentLayerPaths=["C:\\snap\\8","C:\\snap\\3"])"}));
  ASSERT_TRUE(d.ok()) << d.status().toString();
  ASSERT_TRUE(d->has_value());
  EXPECT_THAT((*d)->layers, ElementsAre("C:\\snap\\8\\layer.vhd", "C:\\snap\\3\\layer.vhd"));
  EXPECT_EQ((*d)->scratch, "C:\\snap\\9\\sandbox.vhdx");
}

TEST(LcowLayerDisks, ASharedScratchIsItsOwnersFile) {
  fs::path dir = fs::path(std::getenv("TEST_TMPDIR")) / "shared";
  fs::create_directories(dir / "owner");
  fs::create_directories(dir / "user");
  std::ofstream(dir / "owner" / "sandbox.vhdx") << "disk";
  fs::create_symlink(dir / "owner" / "sandbox.vhdx", dir / "user" / "sandbox.vhdx");
  auto d = lcowLayerDisks(lcow((dir / "user").string(), {"parentLayerPaths=[\"/layers/1\"]"}));
  ASSERT_TRUE(d.ok()) << d.status().toString();
  EXPECT_EQ((*d)->scratch, fs::canonical(dir / "owner" / "sandbox.vhdx").string());
  EXPECT_THAT((*d)->layers, ElementsAre("/layers/1/layer.vhd"));
}

TEST(LcowLayerDisks, OtherMountsAreNotTheirs) {
  Mounts overlay;
  overlay.Add()->set_type("overlay");
  auto d = lcowLayerDisks(overlay);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
  EXPECT_FALSE(lcowLayerDisks(Mounts())->has_value());
}

TEST(LcowLayerDisks, MalformedMountsAreRefusedNamingWhat) {
  struct Case {
    Mounts mounts;
    const char* says;
  };
  Mounts two = lcow("/s", {"parentLayerPaths=[\"/l\"]"});
  two.Add()->set_type("bind");
  std::vector<Case> cases = {
      {two, "the only mount"},
      {lcow("", {"parentLayerPaths=[\"/l\"]"}), "source"},
      {lcow("relative/dir", {"parentLayerPaths=[\"/l\"]"}), "source"},
      {lcow("/s", {"rw"}), "no parentLayerPaths"},
      {lcow("/s", {"parentLayerPaths={\"a\":1}"}), "JSON array"},
      {lcow("/s", {"parentLayerPaths=[]"}), "JSON array"},
      {lcow("/s", {"parentLayerPaths=[\"/l\""}), "parentLayerPaths"},
      {lcow("/s", {"parentLayerPaths=[3]"}), "3"},
      {lcow("/s", {"parentLayerPaths=[\"/l/../../etc\"]"}), "/l/../../etc"},
      {lcow("/s", {"parentLayerPaths=[\"C:\\\\l\\\\..\\\\x\"]"}), "not an absolute host path"},
      {lcow("/s/..", {"parentLayerPaths=[\"/l\"]"}), "source"},
  };
  for (const auto& c : cases) {
    auto d = lcowLayerDisks(c.mounts);
    EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << c.says;
    EXPECT_THAT(d.status().message(), HasSubstr(c.says)) << d.status().toString();
  }
}

}  // namespace
}  // namespace hcsshim::shim
