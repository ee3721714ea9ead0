// oci_image.h: a small OCI image built locally (no registry here): one gzip
// layer from a directory, its config and manifest, in an OCI image layout
// tar that `ctr images import` takes.
#pragma once

#include <string>
#include <vector>

#include "src/common/json.h"
#include "src/common/status.h"
#include "src/runtime/runtime.h"

namespace hcsshim::functional {

// buildImageTar writes <workDir>/image.tar for image `name` (e.g.
// "docker.io/library/busybox:hcsshim-test") from layerDir.
// imageConfig is the image config's "config" object (Env, Cmd, Entrypoint,
// User...); by default a PATH and Cmd ["sh"].
StatusOr<std::string> buildImageTar(runtime::Runtime& rt, const std::string& layerDir, const std::string& workDir,
                                    const std::string& name, const Json& imageConfig = Json());

}  // namespace hcsshim::functional
