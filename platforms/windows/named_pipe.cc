#include "platforms/windows/named_pipe.h"

#include <windows.h>

#include <mutex>

#include "platforms/windows/blocking.h"
#include "platforms/windows/handle_stream.h"
#include "src/common/utf16.h"

namespace hcsshim::platforms::windows {

using runtime::Task;

namespace {

constexpr DWORD kBuffer = 64 * 1024;

HANDLE makeInstance(const std::u16string& path, bool first) {
  DWORD mode = PIPE_ACCESS_DUPLEX | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  return ::CreateNamedPipeW(reinterpret_cast<LPCWSTR>(path.c_str()), mode,
                            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                            PIPE_UNLIMITED_INSTANCES, kBuffer, kBuffer, 0, nullptr);
}

class PipeListener final : public runtime::Listener {
 public:
  PipeListener(runtime::EventLoop& loop, std::u16string path, std::string address, HANDLE first)
      : loop_(loop), path_(std::move(path)), address_(std::move(address)), state_(std::make_shared<State>()) {
    state_->pending = first;
  }
  ~PipeListener() override { close(); }

  // (After the wait only locals and the shared state are touched: the
  // listener may be gone by then.)
  Task<StatusOr<std::unique_ptr<runtime::Stream>>> accept() override {
    std::shared_ptr<State> st = state_;
    runtime::EventLoop& loop = loop_;
    std::u16string path = path_;
    std::string address = address_;
    // A client that connected and hung up before ConnectNamedPipe leaves
    // its instance broken (ERROR_NO_DATA): drop it and wait on the next.
    for (;;) {
      HANDLE h;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        if (st->closed) co_return CancelledError(address + ": the listener is closed");
        h = st->pending;
        st->pending = INVALID_HANDLE_VALUE;
      }
      if (h == INVALID_HANDLE_VALUE) {
        h = makeInstance(path, false);
        if (h == INVALID_HANDLE_VALUE) co_return win32Status(::GetLastError(), address + ": CreateNamedPipe");
      }
      {
        std::lock_guard<std::mutex> lock(st->mu);
        st->connecting = h;
      }
      auto connect_call = blocking(loop, [h] {
        BOOL ok = ::ConnectNamedPipe(h, nullptr);
        DWORD err = ok ? 0 : ::GetLastError();
        return err == ERROR_PIPE_CONNECTED ? DWORD{0} : err;
      });
      DWORD err = co_await std::move(connect_call);
      bool closed;
      uint64_t number;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        st->connecting = INVALID_HANDLE_VALUE;
        closed = st->closed;
        // The next client can connect before the next accept.
        if (!closed && st->pending == INVALID_HANDLE_VALUE) st->pending = makeInstance(path, false);
        number = ++st->accepted;
      }
      if (closed) {
        ::CloseHandle(h);
        co_return CancelledError(address + ": the listener is closed");
      }
      if (err == ERROR_NO_DATA) {
        ::CloseHandle(h);
        continue;
      }
      if (err != 0) {
        ::CloseHandle(h);
        co_return win32Status(err, address + ": ConnectNamedPipe");
      }
      std::string name = address + "#" + std::to_string(number);
      co_return std::unique_ptr<runtime::Stream>(std::make_unique<HandleStream>(loop, h, name));
    }
  }

  void close() override {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->closed) return;
      state_->closed = true;
      if (state_->pending != INVALID_HANDLE_VALUE) ::CloseHandle(state_->pending);
      state_->pending = INVALID_HANDLE_VALUE;
      wake = state_->connecting != INVALID_HANDLE_VALUE;
    }
    // A thread blocked in ConnectNamedPipe returns once a client comes:
    // be that client, then hang up.
    if (wake) {
      HANDLE c = ::CreateFileW(reinterpret_cast<LPCWSTR>(path_.c_str()), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                               OPEN_EXISTING, 0, nullptr);
      if (c != INVALID_HANDLE_VALUE) ::CloseHandle(c);
    }
  }
  std::string address() const override { return address_; }

 private:
  struct State {
    std::mutex mu;
    bool closed = false;
    HANDLE pending = INVALID_HANDLE_VALUE;
    HANDLE connecting = INVALID_HANDLE_VALUE;
    uint64_t accepted = 0;
  };
  runtime::EventLoop& loop_;
  std::u16string path_;
  std::string address_;
  std::shared_ptr<State> state_;
};

}  // namespace

bool isPipeAddress(std::string_view a) {
  return a.rfind("npipe://", 0) == 0 || a.rfind("\\\\.\\pipe\\", 0) == 0;
}

StatusOr<std::string> pipePath(std::string_view address) {
  for (std::string_view prefix : {"npipe:////./pipe/", "npipe://./pipe/", "\\\\.\\pipe\\"}) {
    if (address.rfind(prefix, 0) != 0) continue;
    // NAME may have \-separated parts (hcsshim's shims serve
    // \\.\pipe\ProtectedPrefix\Administrators\NAME); containerd's form
    // separates them with /. No part is empty, "." or "..".
    std::string name(address.substr(prefix.size()));
    bool ok = !name.empty() && name.size() <= 200 && toUtf16(name).ok();
    for (size_t start = 0; ok && start <= name.size();) {
      size_t end = name.find_first_of("\\/", start);
      if (end == std::string::npos) end = name.size();
      std::string_view part(name.data() + start, end - start);
      ok = !part.empty() && part != "." && part != "..";
      if (end < name.size()) name[end] = '\\';
      start = end + 1;
    }
    if (!ok) {
      return InvalidArgumentError("pipe address " + std::string(address.substr(0, 220)) +
                                  ": the name must be 1-200 characters of UTF-8 whose \\- or /-separated parts are "
                                  "neither empty, . nor ..");
    }
    return "\\\\.\\pipe\\" + name;
  }
  return InvalidArgumentError("not a pipe address: " + std::string(address.substr(0, 220)) +
                              " (want npipe:////./pipe/NAME or \\\\.\\pipe\\NAME)");
}

StatusOr<std::unique_ptr<runtime::Listener>> listenPipe(runtime::EventLoop& loop, std::string_view address) {
  HCS_ASSIGN_OR_RETURN(std::string path, pipePath(address));
  HCS_ASSIGN_OR_RETURN(std::u16string wide, toUtf16(path));
  // FILE_FLAG_FIRST_PIPE_INSTANCE refuses a served name on Windows; Wine 8
  // ignores it, so ask first whether an instance exists (WaitNamedPipe
  // does not connect to it): available, or all busy (ERROR_SEM_TIMEOUT).
  if (::WaitNamedPipeW(reinterpret_cast<LPCWSTR>(wide.c_str()), 1) || ::GetLastError() == ERROR_SEM_TIMEOUT) {
    return AlreadyExistsError("listen " + path + ": another listener serves this pipe");
  }
  HANDLE first = makeInstance(wide, true);
  if (first == INVALID_HANDLE_VALUE) {
    DWORD err = ::GetLastError();
    if (err == ERROR_ACCESS_DENIED || err == ERROR_PIPE_BUSY) {
      return AlreadyExistsError("listen " + path + ": another process serves this pipe (error " + std::to_string(err) + ")");
    }
    return win32Status(err, "listen " + path);
  }
  return std::unique_ptr<runtime::Listener>(std::make_unique<PipeListener>(loop, std::move(wide), path, first));
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> connectPipe(runtime::EventLoop& loop, std::string address) {
  auto path = pipePath(address);
  if (!path.ok()) co_return path.status();
  auto wide = toUtf16(*path);
  if (!wide.ok()) co_return wide.status();
  std::u16string w = *wide;
  struct Opened {
    HANDLE h = INVALID_HANDLE_VALUE;
    DWORD err = 0;
  };
  auto open_call = blocking(loop, [w] {
    Opened o;
    for (int attempt = 0; attempt < 50; ++attempt) {
      o.h = ::CreateFileW(reinterpret_cast<LPCWSTR>(w.c_str()), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                          0, nullptr);
      if (o.h != INVALID_HANDLE_VALUE) return o;
      o.err = ::GetLastError();
      // Every instance busy (or one a client hung up on, until the server
      // drops it): wait for one, up to 5 s in all.
      if (o.err != ERROR_PIPE_BUSY) break;
      if (!::WaitNamedPipeW(reinterpret_cast<LPCWSTR>(w.c_str()), 100) && ::GetLastError() != ERROR_SEM_TIMEOUT) {
        ::Sleep(100);
      }
    }
    return o;
  });
  Opened o = co_await std::move(open_call);
  if (o.h == INVALID_HANDLE_VALUE) {
    if (o.err == ERROR_FILE_NOT_FOUND) co_return UnavailableError("connect " + *path + ": nobody serves this pipe");
    co_return win32Status(o.err, "connect " + *path);
  }
  co_return std::unique_ptr<runtime::Stream>(std::make_unique<HandleStream>(loop, o.h, *path));
}

}  // namespace hcsshim::platforms::windows
