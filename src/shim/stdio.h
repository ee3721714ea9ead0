// stdio.h: where a task's stdio goes, from the paths/URIs containerd sends.
//   ""              no stream
//   /path, fifo:/   a FIFO the client created (stdout/stderr opened
//                   write-only once the reader is there; stdin read-only)
//   file:///path    append to a file
//   binary://...    a logger binary: not implemented (Unimplemented)
#pragma once

#include <memory>
#include <string>

#include "src/runtime/epoll_loop.h"
#include "src/runtime/transport.h"

namespace hcsshim::shim {

runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openOutput(runtime::EpollEventLoop& loop, std::string uri);
runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openInput(runtime::EpollEventLoop& loop, std::string uri);

// relay copies from -> to until EOF, then shuts `to`'s write side (closeTo:
// and closes it). Owns both ends.
runtime::Task<void> relay(std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to, bool closeTo);

}  // namespace hcsshim::shim
