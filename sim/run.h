// run.h: driving a coroutine to completion on a World, for tests that call
// asynchronous code from synchronous test bodies.
//
//   auto vm = sim::run(world, UtilityVM::create(node, hcs, vsock, options));
//
// A task that cannot finish (the simulation ran out of events first) is a
// test failure, and a StatusOr/Status result is then Internal "stalled".
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <type_traits>

#include "sim/world.h"
#include "src/common/status.h"
#include "src/runtime/task.h"

namespace hcsshim::sim {

template <typename T>
T run(World& world, runtime::Task<T> task) {
  std::optional<T> out;
  runtime::spawn([](runtime::Task<T> t, std::optional<T>& o) -> runtime::Task<void> {
    o.emplace(co_await std::move(t));
  }(std::move(task), out));
  if (!world.runUntil([&] { return out.has_value(); })) {
    ADD_FAILURE() << "the simulation stalled: the task cannot finish";
    if constexpr (std::is_constructible_v<T, Status>) return T(InternalError("stalled"));
    else return T{};
  }
  return std::move(*out);
}

inline void run(World& world, runtime::Task<void> task) {
  bool done = false;
  runtime::spawn([](runtime::Task<void> t, bool& d) -> runtime::Task<void> {
    co_await std::move(t);
    d = true;
  }(std::move(task), done));
  if (!world.runUntil([&] { return done; })) ADD_FAILURE() << "the simulation stalled: the task cannot finish";
}

}  // namespace hcsshim::sim
