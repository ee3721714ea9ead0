// transport.h: the byte-stream seam (unix sockets, pipes, hybrid vsock, and
// the simulator's in-memory streams).
//
// Streams are driven by coroutines: one reader and one writer at a time per
// stream (a protocol that writes from several places keeps its own queue).
// close() ends the stream for both directions and completes pending reads and
// writes with an error, so nothing waits forever on a dead stream.
//
//   auto stream = co_await transport.connect("unix:///run/x.sock");
//   HCS_CO_RETURN_IF_ERROR((co_await (*stream)->write(frame)));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "src/common/status.h"
#include "src/runtime/task.h"

namespace hcsshim::runtime {

// PeerCredentials: who is on the other end of a local stream (SO_PEERCRED).
struct PeerCredentials {
  int32_t pid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  friend bool operator==(const PeerCredentials&, const PeerCredentials&) = default;
};

class Stream {
 public:
  virtual ~Stream() = default;

  // read reads at most buf.size() bytes; 0 means the peer shut down its write side.
  virtual Task<StatusOr<size_t>> read(std::span<char> buf) = 0;
  // write writes all of data (the caller keeps data alive until the task finishes).
  virtual Task<Status> write(std::string_view data) = 0;
  // shutdownWrite tells the peer no more data follows (it reads EOF).
  virtual Status shutdownWrite() = 0;
  // close releases the stream; idempotent.
  virtual void close() = 0;
  // peerCredentials returns the peer's pid/uid/gid where the transport knows them.
  virtual StatusOr<PeerCredentials> peerCredentials() const = 0;
  // describe names the stream in logs ("unix:/run/x.sock#7").
  virtual std::string describe() const = 0;
};

// readExactly reads exactly n bytes; EOF before n bytes is an error naming
// how many bytes arrived (Unavailable; 0 bytes at EOF gives NotFound-free
// "EOF" so callers can tell a clean close from a truncated message).
Task<StatusOr<std::string>> readExactly(Stream& stream, size_t n);

// readToEnd reads until EOF and returns everything read; more than `limit`
// bytes is ResourceExhausted (a runaway peer cannot exhaust memory).
Task<StatusOr<std::string>> readToEnd(Stream& stream, size_t limit = 64 << 20);

// copyStream copies from -> to until EOF (or an error on either side) and
// returns how many bytes went across. It neither shuts down nor closes
// either stream: the caller decides what the end means.
Task<uint64_t> copyStream(Stream& from, Stream& to, size_t bufferSize = 64 * 1024);

// isCleanEof tells whether a readExactly error was EOF before the first byte.
bool isCleanEof(const Status& s);

class Listener {
 public:
  virtual ~Listener() = default;
  // accept waits for the next connection; fails with Cancelled after close().
  virtual Task<StatusOr<std::unique_ptr<Stream>>> accept() = 0;
  virtual void close() = 0;
  virtual std::string address() const = 0;
};

// Transport creates listeners and outgoing streams for an address scheme.
// Addresses: "unix:///abs/path" or a plain "/abs/path" (filesystem unix
// sockets); implementations may accept more schemes.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual StatusOr<std::unique_ptr<Listener>> listen(std::string_view address) = 0;
  virtual Task<StatusOr<std::unique_ptr<Stream>>> connect(std::string_view address) = 0;
};

// unixSocketPath strips an optional "unix://" prefix and checks the result is
// an absolute path. Paths longer than sockaddr_un holds (107 bytes) are
// reached through their directory (UnixTransport: /proc/self/fd/N/<name>),
// so only the socket's own name is limited.
StatusOr<std::string> unixSocketPath(std::string_view address);

}  // namespace hcsshim::runtime
