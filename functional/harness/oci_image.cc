#include "functional/harness/oci_image.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/common/json.h"
#include "src/common/sha256.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::functional {

namespace fs = std::filesystem;

namespace {

Status runTool(runtime::Runtime& rt, std::vector<std::string> args) {
  int code = runtime::blockOn(rt.loop(), [](runtime::Runtime& rt, std::vector<std::string> args) -> runtime::Task<int> {
    runtime::ProcessSpec spec{.path = args[0], .args = args};
    auto p = rt.processes().spawn(spec);
    if (!p.ok()) co_return -1;
    co_return (co_await (*p)->wait()).exitCode;
  }(rt, args));
  if (code != 0) return InternalError(args[0] + " exited with " + std::to_string(code));
  return OkStatus();
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// blob stores content under blobs/sha256 and returns its descriptor.
Json blob(const std::string& layout, const std::string& mediaType, const std::string& content) {
  std::string hex = sha256Hex(content);
  std::ofstream(layout + "/blobs/sha256/" + hex, std::ios::binary) << content;
  return Json{{"mediaType", mediaType}, {"digest", "sha256:" + hex}, {"size", content.size()}};
}

}  // namespace

StatusOr<std::string> buildImageTar(runtime::Runtime& rt, const std::string& layerDir, const std::string& workDir,
                                    const std::string& name, const Json& imageConfig) {
  std::string layout = workDir + "/oci-layout";
  fs::remove_all(layout);
  fs::create_directories(layout + "/blobs/sha256");
  std::string layerTar = workDir + "/layer.tar";
  HCS_RETURN_IF_ERROR(runTool(rt, {"/bin/tar", "--sort=name", "--numeric-owner", "-C", layerDir, "-cf", layerTar, "."}));
  HCS_RETURN_IF_ERROR(runTool(rt, {"/bin/gzip", "-n", "-f", "-k", layerTar}));
  std::string diffId = "sha256:" + sha256Hex(readAll(layerTar));
  Json layer = blob(layout, "application/vnd.oci.image.layer.v1.tar+gzip", readAll(layerTar + ".gz"));
  Json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", imageConfig.is_object() ? imageConfig
                                                    : Json{{"Env", {"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}}, {"Cmd", {"sh"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {diffId}}}}};
  Json configDesc = blob(layout, "application/vnd.oci.image.config.v1+json", config.dump());
  Json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config", configDesc},
                   {"layers", Json::array({layer})}};
  Json manifestDesc = blob(layout, "application/vnd.oci.image.manifest.v1+json", manifest.dump());
  manifestDesc["annotations"] = {{"io.containerd.image.name", name}, {"org.opencontainers.image.ref.name", "latest"}};
  Json index = {{"schemaVersion", 2}, {"manifests", Json::array({manifestDesc})}};
  std::ofstream(layout + "/index.json") << index.dump();
  std::ofstream(layout + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
  std::string out = workDir + "/image.tar";
  HCS_RETURN_IF_ERROR(runTool(rt, {"/bin/tar", "-C", layout, "-cf", out, "."}));
  return out;
}

}  // namespace hcsshim::functional
