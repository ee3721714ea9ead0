// read_file.h: read a whole (small) file without exceptions.
//
// std::ifstream + istreambuf_iterator throws from libstdc++'s filebuf when a
// read fails (a /proc/<pid> file whose process just exited: ESRCH); this does
// not, which is what anything scanning /proc, /sys or cgroup files needs.
//
//   auto text = runtime::readFile("/proc/" + pid + "/cmdline");   // nullopt if unreadable
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace hcsshim::runtime {

// readFile: the file's content (at most maxBytes), or nullopt if it cannot be
// opened or read.
std::optional<std::string> readFile(const std::string& path, size_t maxBytes = 1 << 20);

}  // namespace hcsshim::runtime
