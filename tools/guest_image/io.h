// io.h: whole-file reads for the image tools (inputs of any size).
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "src/common/status.h"

namespace hcsshim::guest_image {

inline StatusOr<std::string> readWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return InternalError(path + ": read failed");
  return std::move(s).str();
}

}  // namespace hcsshim::guest_image
