// win_thread.h: a detached thread made with CreateThread.
//
// Not std::thread: mingw-w64's std::thread is winpthreads' pthread_create,
// and under Wine 8 some of the threads it makes never run (a minimal program
// that starts 3,000 detached std::threads one after another, waiting for
// each, stalls in 4 of 12 runs when four Wine prefixes are busy at once; the
// same with CreateThread passed 24 of 24). A call whose thread never runs
// is a hang, so every thread of the Windows code is made here.
//
//   Status st = startThread([=] { work(); });
#pragma once

#include <windows.h>

#include <functional>
#include <memory>

#include "src/common/status.h"

namespace hcsshim::platforms::windows {

inline Status startThread(std::function<void()> fn) {
  auto owned = std::make_unique<std::function<void()>>(std::move(fn));
  auto entry = [](void* arg) -> DWORD {
    std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(arg));
    (*f)();
    return 0;
  };
  HANDLE h = ::CreateThread(nullptr, 0, entry, owned.get(), 0, nullptr);
  if (!h) return UnavailableError("CreateThread failed: error " + std::to_string(::GetLastError()));
  owned.release();  // the thread owns it now
  ::CloseHandle(h);
  return OkStatus();
}

}  // namespace hcsshim::platforms::windows
