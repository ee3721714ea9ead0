// named_pipe.h: named pipes as runtime streams and listeners - what
// containerd on Windows dials its shims on. Addresses:
//   npipe:////./pipe/NAME   (containerd's form)   npipe://./pipe/NAME
//   \\.\pipe\NAME
// NAME: 1-200 characters of valid UTF-8, in parts separated by \ (or / in the
// npipe form; it becomes \), none empty, "." or ".." - hcsshim's shims
// serve \\.\pipe\ProtectedPrefix\Administrators\containerd-shim-NS-ID-pipe.
//
// A listener keeps one pipe instance waiting, so a client can connect
// before accept() is called; accept hands it over and makes the next.
// Instances reject remote clients (PIPE_REJECT_REMOTE_CLIENTS). The first
// instance is made with FILE_FLAG_FIRST_PIPE_INSTANCE, after asking
// WaitNamedPipe whether the name is served (Wine ignores the flag): a name
// already served is AlreadyExists. close() wakes a blocked accept (it connects to
// its own instance) with Cancelled.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "src/runtime/event_loop.h"
#include "src/runtime/transport.h"

namespace hcsshim::platforms::windows {

// isPipeAddress: whether `address` has one of the forms above (valid or not).
bool isPipeAddress(std::string_view address);
// pipePath: the \\.\pipe\NAME path of a pipe address; InvalidArgument otherwise.
StatusOr<std::string> pipePath(std::string_view address);

StatusOr<std::unique_ptr<runtime::Listener>> listenPipe(runtime::EventLoop& loop, std::string_view address);
runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> connectPipe(runtime::EventLoop& loop, std::string address);

}  // namespace hcsshim::platforms::windows
