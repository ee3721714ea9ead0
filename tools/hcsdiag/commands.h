// commands.h: hcsdiag's commands that need nothing but the HCS API - the
// same on every platform (main.cc: Linux, against the fake HCS daemon;
// main_windows.cc: Windows, against computecore.dll).
//
//   list
//   create <id> <document.json|->
//   start|shutdown|terminate|pause|resume <id>
//   properties <id> [PropertyType ...]
//
// Errors print the operation, the system id and the HRESULT, and exit 1.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/hcs/hcs_api.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::hcsdiag {

// usage prints the usage (with the platform's extra command lines) and returns 2.
int usage(const char* extra = "");
// fail prints the error and returns 1.
int fail(const Status& s);

// runCommon runs args (a command and its operands): its exit code, or
// nullopt for a command that is not one of these. usageExtra: the
// platform's own command lines, for the usage text.
runtime::Task<std::optional<int>> runCommon(hcs::HcsApi& hcs, runtime::EventLoop& loop, std::vector<std::string> args,
                                            const char* usageExtra);

}  // namespace hcsshim::hcsdiag
