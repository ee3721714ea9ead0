// buffered_stream.h: the shared machinery of framed protocols (ttrpc, the
// guest bridge) over a Stream - a receive buffer that serves several frames
// per read syscall, and an outbox that batches concurrent sends into one
// write, in call order.
//
//   BufferedStream b(std::move(stream));
//   HCS_CO_RETURN_IF_ERROR(co_await b.fill(16));   // 16 unread bytes now
//   Header h = decode(b.data()); b.consume(16);
//   b.send(headerBytes, payload);                  // whole, in order
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "src/common/status.h"
#include "src/runtime/task.h"
#include "src/runtime/transport.h"

namespace hcsshim::runtime {

class BufferedStream {
 public:
  explicit BufferedStream(std::unique_ptr<Stream> stream);
  ~BufferedStream();
  BufferedStream(const BufferedStream&) = delete;
  BufferedStream& operator=(const BufferedStream&) = delete;

  // fill makes at least `want` unread bytes available. EOF with nothing
  // unread is Unavailable "EOF before first byte" (isCleanEof); EOF part way
  // is Unavailable "unexpected EOF after N of M bytes".
  Task<Status> fill(size_t want);
  const char* data() const { return s_->inbuf.get() + s_->inHead; }
  size_t unread() const { return s_->unread(); }
  void consume(size_t n) { s_->inHead += n; }
  // skip discards n bytes (reading them as needed) - for oversized frames.
  Task<Status> skip(size_t n);

  // send queues head+body and starts writing; frames from concurrent senders
  // go out whole and in call order. Fails once the stream is closed or broken.
  Status send(std::string_view head, std::string_view body);
  // drained completes when everything queued so far has been written (or the
  // stream broke).
  Task<Status> drained();
  // sending: a write is queued or in progress.
  bool sending() const { return s_->flushing || !s_->outbox.empty(); }

  void close();
  bool closed() const { return s_->closed; }
  // writeError is the failure that broke the stream while writing (OK if none).
  const Status& writeError() const { return s_->writeError; }
  Stream& stream() { return *s_->stream; }

 private:
  struct State {
    std::unique_ptr<Stream> stream;
    // Bytes [inHead, inTail) of inbuf are unread. A plain array, so growing
    // it does not zero memory that a read overwrites.
    std::unique_ptr<char[]> inbuf;
    size_t inCap = 0;
    size_t inHead = 0;
    size_t inTail = 0;
    size_t unread() const { return inTail - inHead; }
    std::string outbox;
    bool flushing = false;
    bool closed = false;
    Status writeError;
    WaitList flushed;
  };
  static Task<void> flush(std::shared_ptr<State> s);
  static Task<Status> fillImpl(std::shared_ptr<State> s, size_t want);

  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::runtime
