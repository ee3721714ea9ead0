// blocking.h: a blocking Windows call run on a thread of its own (made by
// win_thread.h), its result handed back to the loop, where the awaiting
// coroutine resumes (the DLLs' calls block; the loop must not).
//
//   HRESULT hr = co_await blocking(loop, [=] { return HcnDeleteNetwork(&id, &record); });
#pragma once

#include <coroutine>
#include <cstdio>
#include <functional>
#include <utility>

#include "platforms/windows/win_thread.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::platforms::windows {

template <typename T>
struct Blocking {
  runtime::EventLoop& loop;
  std::function<T()> work;
  T result{};
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    Status started = startThread([this, h] {
      result = work();
      loop.post([h] { h.resume(); });
    });
    if (!started.ok()) {
      // No thread to be had: the call blocks the loop instead of never
      // being made.
      std::fprintf(stderr, "blocking: %s; the call runs on the loop's thread\n", started.toString().c_str());
      result = work();
      loop.post([h] { h.resume(); });
    }
  }
  T await_resume() { return std::move(result); }
};

template <typename F>
auto blocking(runtime::EventLoop& loop, F work) {
  using T = decltype(work());
  return Blocking<T>{loop, std::function<T()>(std::move(work)), T{}};
}

}  // namespace hcsshim::platforms::windows
