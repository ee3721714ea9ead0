#include "platforms/windows/handle_stream.h"

#include <algorithm>

#include "platforms/windows/blocking.h"

namespace hcsshim::platforms::windows {

using runtime::Task;

void SharedHandle::close() {
  if (!closed_.exchange(true) && h_ && h_ != INVALID_HANDLE_VALUE) {
    // A thread may be blocked in ReadFile on it: cancel that first.
    ::CancelIoEx(h_, nullptr);
    ::CloseHandle(h_);
  }
}

Status win32Status(DWORD err, const std::string& what) {
  char buf[256] = {};
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, err, 0, buf, sizeof buf, nullptr);
  std::string text(buf, n);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == '.')) text.pop_back();
  return UnavailableError(what + ": error " + std::to_string(err) + (text.empty() ? "" : " (" + text + ")"));
}

HandleStream::HandleStream(runtime::EventLoop& loop, HANDLE h, std::string name)
    : loop_(loop), h_(std::make_shared<SharedHandle>(h)), name_(std::move(name)) {}

namespace {
struct Io {
  BOOL ok = FALSE;
  DWORD n = 0;
  DWORD err = 0;
};
}  // namespace

Task<StatusOr<size_t>> HandleStream::read(std::span<char> buf) {
  if (h_->closed()) co_return UnavailableError(name_ + ": read on a closed stream");
  std::shared_ptr<SharedHandle> h = h_;
  char* data = buf.data();
  DWORD want = static_cast<DWORD>(std::min<size_t>(buf.size(), 1 << 30));
  auto read_call = blocking(loop_, [h, data, want] {
    Io io;
    io.ok = ::ReadFile(h->get(), data, want, &io.n, nullptr);
    io.err = io.ok ? 0 : ::GetLastError();
    return io;
  });
  Io io = co_await std::move(read_call);
  if (io.ok) co_return static_cast<size_t>(io.n);
  if (io.err == ERROR_BROKEN_PIPE || io.err == ERROR_NO_DATA || io.err == ERROR_PIPE_NOT_CONNECTED) co_return size_t{0};
  co_return win32Status(io.err, name_ + ": read");
}

Task<Status> HandleStream::write(std::string_view data) {
  std::shared_ptr<SharedHandle> h = h_;
  while (!data.empty()) {
    if (h->closed()) co_return UnavailableError(name_ + ": write on a closed stream");
    const char* p = data.data();
    DWORD len = static_cast<DWORD>(std::min<size_t>(data.size(), 1 << 20));
    auto write_call = blocking(loop_, [h, p, len] {
      Io io;
      io.ok = ::WriteFile(h->get(), p, len, &io.n, nullptr);
      io.err = io.ok ? 0 : ::GetLastError();
      return io;
    });
    Io io = co_await std::move(write_call);
    if (!io.ok) co_return win32Status(io.err, name_ + ": write");
    if (io.n == 0) co_return UnavailableError(name_ + ": write made no progress");
    data.remove_prefix(io.n);
  }
  co_return OkStatus();
}

Status HandleStream::shutdownWrite() {
  if (h_->closed()) return UnavailableError(name_ + ": shutdown on a closed stream");
  ::FlushFileBuffers(h_->get());
  h_->close();
  return OkStatus();
}

StatusOr<runtime::PeerCredentials> HandleStream::peerCredentials() const {
  ULONG pid = 0;
  if (!h_->closed() && ::GetNamedPipeClientProcessId(h_->get(), &pid) && pid != 0) {
    return runtime::PeerCredentials{.pid = static_cast<int32_t>(pid), .uid = 0, .gid = 0};
  }
  return UnimplementedError(name_ + ": no peer process id for this handle");
}

}  // namespace hcsshim::platforms::windows
