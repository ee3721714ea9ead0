// task.h: the coroutine task type every asynchronous component is written in.
//
// Task<T> is a lazily started coroutine returning T. Awaiting it starts it and
// resumes the awaiter when it finishes:
//
//   Task<StatusOr<Frame>> readFrame(Stream& s) {
//     HCS_CO_ASSIGN_OR_RETURN(std::string header, co_await readExactly(s, 10));
//     ...
//   }
//
// spawn() starts a Task<void> that nobody awaits; its frame frees itself when
// it finishes. Oneshot<T> is a single-assignment value a coroutine can await;
// it is the bridge from callbacks (timers, fd readiness, simulated delivery) to
// coroutines.
//
// Everything here is single-threaded: a coroutine is resumed on the event loop
// thread that owns the objects it waits on.
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace hcsshim::runtime {

template <typename T>
class Task;

namespace detail {

// Completion hand-off without relying on tail calls (GCC only turns symmetric
// transfer into a tail call when optimising, so an unoptimised build would
// grow the stack on every synchronously completed await). The awaiter starts
// the task inline; if the task finishes before yielding, the awaiter simply
// continues (await_suspend returns false); otherwise the task resumes its
// awaiter when it finishes. Stack depth is bounded by nesting depth, never by
// the number of awaits.
struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <typename P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    auto& p = h.promise();
    if (p.startingInline) {
      p.completedInline = true;  // the awaiter is still in await_suspend: it continues itself
      return;
    }
    if (p.continuation) p.continuation.resume();
  }
  void await_resume() const noexcept {}
};

struct PromiseBase {
  std::coroutine_handle<> continuation;
  bool startingInline = false;
  bool completedInline = false;
  std::exception_ptr exception;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <typename T>
struct Promise : PromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*value);
  }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
};

}  // namespace detail

// Task<T>: a lazily started coroutine producing T.
template <typename T = void>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(Handle h) : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  bool valid() const { return static_cast<bool>(h_); }
  bool done() const { return h_ && h_.done(); }

  auto operator co_await() && noexcept {
    struct Awaiter {
      Handle h;
      bool await_ready() const noexcept { return !h || h.done(); }
      bool await_suspend(std::coroutine_handle<> cont) noexcept {
        auto& p = h.promise();
        p.continuation = cont;
        p.startingInline = true;
        h.resume();
        p.startingInline = false;
        return !p.completedInline;  // false: finished already, continue without suspending
      }
      T await_resume() { return h.promise().take(); }
    };
    return Awaiter{h_};
  }

  // release hands the coroutine frame to the caller (used by spawn).
  Handle release() { return std::exchange(h_, {}); }

 private:
  void reset() {
    if (h_) h_.destroy();
    h_ = {};
  }
  Handle h_;
};

namespace detail {

template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// Detached: a coroutine that starts at once and frees its own frame at the end.
struct Detached {
  struct promise_type {
    Detached get_return_object() const noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    // A detached task has nobody to report to: an escaping exception is a bug.
    void unhandled_exception() const noexcept { std::terminate(); }
  };
};

inline Detached runDetached(Task<void> t) { co_await std::move(t); }

}  // namespace detail

// spawn starts `task` now (it runs until its first suspension before spawn
// returns) without anyone awaiting it.
inline void spawn(Task<void> task) { detail::runDetached(std::move(task)); }

// Oneshot<T>: a value set once by a producer and awaited by at most one
// coroutine. Copies share the same state. set() resumes the waiter inline.
template <typename T>
class Oneshot {
 public:
  Oneshot() : s_(std::make_shared<State>()) {}

  bool isSet() const { return s_->value.has_value(); }
  bool hasWaiter() const { return static_cast<bool>(s_->waiter); }

  // set stores the value and resumes a waiting coroutine; later calls are ignored.
  void set(T v) {
    if (s_->value) return;
    s_->value.emplace(std::move(v));
    if (auto h = std::exchange(s_->waiter, {})) h.resume();
  }

  auto operator co_await() const noexcept {
    struct Awaiter {
      std::shared_ptr<State> s;
      bool await_ready() const noexcept { return s->value.has_value(); }
      void await_suspend(std::coroutine_handle<> h) noexcept { s->waiter = h; }
      T await_resume() { return std::move(*s->value); }
    };
    return Awaiter{s_};
  }

 private:
  struct State {
    std::optional<T> value;
    std::coroutine_handle<> waiter;
  };
  std::shared_ptr<State> s_;
};

// WaitList: coroutines parked until notifyAll (e.g. "readable", "state changed").
class WaitList {
 public:
  auto wait() noexcept {
    struct Awaiter {
      WaitList* list;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) { list->waiters_.push_back(h); }
      void await_resume() const noexcept {}
    };
    return Awaiter{this};
  }
  bool empty() const { return waiters_.empty(); }
  // notifyAll resumes every coroutine waiting now (not those that wait again meanwhile).
  void notifyAll() {
    auto ws = std::move(waiters_);
    waiters_.clear();
    for (auto h : ws) h.resume();
  }

 private:
  std::vector<std::coroutine_handle<>> waiters_;
};

}  // namespace hcsshim::runtime
