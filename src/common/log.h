// log.h: structured, leveled logging, one line per event (logfmt).
//
//   HLOG(Info, "ttrpc.conn.accepted").kv("conn", id).kv("peer_uid", uid);
// writes
//   time=2026-11-27T21:30:08.123456789Z level=info event=ttrpc.conn.accepted conn=3 peer_uid=0
//
// Every line names the event and the ids of the objects involved. The level
// defaults to info; daemons set debug with their `-debug` flag. Timestamps come
// from a settable time source so that the simulator's logs carry virtual time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "src/common/status.h"

namespace hcsshim {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// LogSink receives whole formatted lines (without the trailing newline).
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(LogLevel level, std::string_view line) = 0;
};

namespace log {

void setLevel(LogLevel level);
LogLevel level();
inline bool enabled(LogLevel l) { return static_cast<int>(l) >= static_cast<int>(level()); }

// setSink replaces where lines go (stderr by default); nullptr restores stderr.
void setSink(std::shared_ptr<LogSink> sink);

// setTimeSource replaces the clock used for `time=` (nanoseconds since the Unix
// epoch); an empty function restores the real clock.
void setTimeSource(std::function<int64_t()> nanosSinceEpoch);

// parseLevel accepts debug|info|warn|error|off.
StatusOr<LogLevel> parseLevel(std::string_view name);

// formatTime renders nanoseconds since the epoch as RFC 3339 UTC with nanoseconds.
std::string formatTime(int64_t nanosSinceEpoch);

}  // namespace log

// LogEvent collects key/value pairs and writes one line when destroyed.
class LogEvent {
 public:
  LogEvent(LogLevel level, std::string_view event);
  ~LogEvent();
  LogEvent(const LogEvent&) = delete;
  LogEvent& operator=(const LogEvent&) = delete;

  LogEvent& kv(std::string_view key, std::string_view value);
  LogEvent& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
  LogEvent& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  LogEvent& kv(std::string_view key, bool value) { return kv(key, value ? "true" : "false"); }
  LogEvent& kv(std::string_view key, const Status& status);
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  LogEvent& kv(std::string_view key, T value) {
    return kvRaw(key, std::to_string(value));
  }
  LogEvent& hex(std::string_view key, uint64_t value);

 private:
  LogEvent& kvRaw(std::string_view key, std::string_view value);
  LogLevel level_;
  std::string line_;
};

}  // namespace hcsshim

// HLOG(Level, "event"): starts a log line; the arguments of .kv() are not
// evaluated when the level is disabled.
// (A one-pass for loop, unlike if/else, is safe inside an unbraced if.)
#define HLOG(lvl, event)                                                               \
  for (bool hcs_log_once_ = ::hcsshim::log::enabled(::hcsshim::LogLevel::k##lvl); hcs_log_once_; \
       hcs_log_once_ = false)                                                          \
  ::hcsshim::LogEvent(::hcsshim::LogLevel::k##lvl, event)
