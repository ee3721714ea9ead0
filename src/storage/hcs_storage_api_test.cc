#include "src/storage/hcs_storage_api.h"

#include <gtest/gtest.h>

#include "src/common/json.h"

namespace hcsshim::storage {
namespace {

TEST(LayerDataTest, IsTheDocumentComputestorageReads) {
  std::string text = layerData({{.id = "8b6cbf3c-1b3e-4f3a-9a52-4e8f0f0f0f01", .path = "C:\\layers\\base"},
                                {.id = "8b6cbf3c-1b3e-4f3a-9a52-4e8f0f0f0f02", .path = "C:\\layers\\ünïcode"}});
  auto j = parseJson(text);
  ASSERT_TRUE(j.ok()) << text;
  EXPECT_EQ((*j)["SchemaVersion"], (Json{{"Major", 2}, {"Minor", 1}}));
  ASSERT_EQ((*j)["Layers"].size(), 2u);
  EXPECT_EQ((*j)["Layers"][0], (Json{{"Id", "8b6cbf3c-1b3e-4f3a-9a52-4e8f0f0f0f01"}, {"Path", "C:\\layers\\base"},
                                     {"PathType", "AbsolutePath"}}));
  EXPECT_EQ((*j)["Layers"][1]["Path"], "C:\\layers\\ünïcode");
  EXPECT_EQ((*parseJson(layerData({})))["Layers"], Json::array());
}

}  // namespace
}  // namespace hcsshim::storage
