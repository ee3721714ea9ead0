// handle_stream.h: a runtime::Stream over a Windows byte HANDLE - a named
// pipe instance or an anonymous pipe end. ReadFile/WriteFile block, so each
// runs on a thread of its own (blocking.h) and completes on the loop; the
// handle is shared with those threads, so the stream may go first.
// close() closes the handle: a blocked ReadFile on a pipe then ends with an
// error (the peer sees EOF). ERROR_BROKEN_PIPE and ERROR_NO_DATA on read are
// EOF (0 bytes), as a pipe's end is.
#pragma once

#include <windows.h>

#include <atomic>
#include <memory>
#include <string>

#include "src/runtime/event_loop.h"
#include "src/runtime/transport.h"

namespace hcsshim::platforms::windows {

// A handle closed once, by whoever is last or by close().
class SharedHandle {
 public:
  explicit SharedHandle(HANDLE h) : h_(h) {}
  ~SharedHandle() { close(); }
  HANDLE get() const { return h_; }
  bool closed() const { return closed_.load(); }
  void close();

 private:
  HANDLE h_;
  std::atomic<bool> closed_{false};
};

class HandleStream final : public runtime::Stream {
 public:
  HandleStream(runtime::EventLoop& loop, HANDLE h, std::string name);
  ~HandleStream() override { close(); }
  runtime::Task<StatusOr<size_t>> read(std::span<char> buf) override;
  runtime::Task<Status> write(std::string_view data) override;
  // shutdownWrite: a pipe has no half-close; the handle is closed (the
  // peer reads EOF), so reads end too. Anonymous pipes are one-way anyway.
  Status shutdownWrite() override;
  void close() override { h_->close(); }
  StatusOr<runtime::PeerCredentials> peerCredentials() const override;
  std::string describe() const override { return name_; }

 private:
  runtime::EventLoop& loop_;
  std::shared_ptr<SharedHandle> h_;
  std::string name_;
};

// win32Status: a Win32 error as Unavailable with its number and text.
Status win32Status(DWORD err, const std::string& what);

}  // namespace hcsshim::platforms::windows
