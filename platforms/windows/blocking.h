// blocking.h: a blocking Windows call run on a thread of its own, its result
// handed back to the loop, where the awaiting coroutine resumes (the DLLs'
// calls block; the loop must not).
//
//   HRESULT hr = co_await blocking(loop, [=] { return HcnDeleteNetwork(&id, &record); });
#pragma once

#include <coroutine>
#include <functional>
#include <thread>
#include <utility>

#include "src/runtime/event_loop.h"

namespace hcsshim::platforms::windows {

template <typename T>
struct Blocking {
  runtime::EventLoop& loop;
  std::function<T()> work;
  T result{};
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    std::thread([this, h] {
      result = work();
      loop.post([h] { h.resume(); });
    }).detach();
  }
  T await_resume() { return std::move(result); }
};

template <typename F>
auto blocking(runtime::EventLoop& loop, F work) {
  using T = decltype(work());
  return Blocking<T>{loop, std::function<T()>(std::move(work)), T{}};
}

}  // namespace hcsshim::platforms::windows
