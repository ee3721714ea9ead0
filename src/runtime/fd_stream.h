// fd_stream.h: a Stream over a non-blocking file descriptor (unix socket or
// pipe end) driven by an EpollEventLoop. Real seam implementation only.
#pragma once

#include <memory>
#include <string>

#include "src/runtime/epoll_loop.h"
#include "src/runtime/transport.h"

namespace hcsshim::runtime {

class FdStream final : public Stream {
 public:
  // kPtyMaster: reads and writes; EIO (the slave side closed) reads as EOF;
  // shutdownWrite sends the terminal's end-of-file character (^D).
  enum class Kind { kSocket, kPipeRead, kPipeWrite, kPtyMaster };

  // create takes ownership of fd (made non-blocking here).
  static StatusOr<std::unique_ptr<FdStream>> create(EpollEventLoop& loop, int fd, Kind kind, std::string name);
  ~FdStream() override;

  Task<StatusOr<size_t>> read(std::span<char> buf) override;
  Task<Status> write(std::string_view data) override;
  Status shutdownWrite() override;
  void close() override;
  StatusOr<PeerCredentials> peerCredentials() const override;
  std::string describe() const override { return name_; }

  int fd() const { return state_->fd; }
  // setWindowSize applies TIOCSWINSZ (pty masters only).
  Status setWindowSize(uint16_t rows, uint16_t columns);

 private:
  struct State {
    EpollEventLoop* loop;
    int fd;
    Kind kind;
    std::shared_ptr<FdWatch> watch;
    bool closed = false;
    bool writeShut = false;
  };
  FdStream(std::shared_ptr<State> s, std::string name) : state_(std::move(s)), name_(std::move(name)) {}
  static Task<StatusOr<size_t>> readImpl(std::shared_ptr<State> s, std::span<char> buf);
  static Task<Status> writeImpl(std::shared_ptr<State> s, std::string_view data);

  std::shared_ptr<State> state_;
  std::string name_;
};

}  // namespace hcsshim::runtime
