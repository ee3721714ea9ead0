// oci_image.h: a small OCI image built locally (no registry here): one gzip
// layer from a directory, its config and manifest, in an OCI image layout
// tar that `ctr images import` takes.
#pragma once

#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/runtime.h"

namespace hcsshim::functional {

// buildImageTar writes <workDir>/image.tar for image `name` (e.g.
// "docker.io/library/busybox:hcsshim-test") from layerDir.
StatusOr<std::string> buildImageTar(runtime::Runtime& rt, const std::string& layerDir, const std::string& workDir,
                                    const std::string& name);

}  // namespace hcsshim::functional
