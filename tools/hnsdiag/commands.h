// commands.h: hnsdiag's commands over the HNS API - the same on every
// platform (main.cc: Linux, the fake HNS of the hcs_fake daemon;
// main_windows.cc: Windows, computenetwork.dll and vmcompute.dll's HNSCall).
// The commands are listed in main.cc's header.
#pragma once

#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/hns/hns_api.h"

namespace hcsshim::hnsdiag {

// usage prints the usage and returns 2; fail prints the error and returns 1.
int usage();
int fail(const Status& s);

// runCommand runs args (a command and its operands) and gives the exit code.
// A document from HNS that the output cannot show is an error (exit 1).
runtime::Task<int> runCommand(hns::HnsApi& api, std::vector<std::string> args);

}  // namespace hcsshim::hnsdiag
