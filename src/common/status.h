// status.h: the project's one error model.
//
// Every failure carries the HRESULT that HCS, the GCS or HNS would report on
// the wire, the operation that failed, the id of the object it failed on and
// a human message. At RPC edges (ttrpc, CRI) a Status maps to a canonical
// gRPC-style code with the retry rule from ../shared/STYLE.md:
//   Unavailable        - retry the same call;
//   Aborted            - retry at a higher level;
//   FailedPrecondition - do not retry until the state is fixed.
//
//   Status s = Status::fromHResult(hresult::kHcsInvalidState, "Start", id, "system is running");
//   s.code() == Code::kFailedPrecondition;   s.toString() ==
//   "Start(<id>): system is running [FailedPrecondition, HRESULT 0x80370105 HCS_E_INVALID_STATE]"
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "src/common/hresult.h"

namespace hcsshim {

// Code is the canonical status code (numbering shared with gRPC and ttrpc).
enum class Code : int32_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// codeName returns "InvalidArgument" etc.; "Code(N)" for values outside the enum.
std::string codeName(Code code);

// codeFromHResult maps an HRESULT to its canonical code (the retry rule above).
Code codeFromHResult(HResult hr);

// hresultFromCode gives the HRESULT used when a failure starts from a canonical
// code rather than from a wire HRESULT (e.g. E_INVALIDARG for kInvalidArgument).
HResult hresultFromCode(Code code);

// Status is OK or an error with code, HRESULT, operation, object id and message.
// An OK Status holds no allocation; copying an error shares its immutable payload.
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  // Status builds an error from a canonical code; the HRESULT follows from the code.
  Status(Code code, std::string message);

  // fromHResult builds an error from a wire HRESULT; the code follows from the HRESULT.
  static Status fromHResult(HResult hr, std::string op, std::string id, std::string message);

  // withCode builds an error with both a code and an explicit HRESULT.
  static Status withCode(Code code, HResult hr, std::string op, std::string id, std::string message);

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  HResult hresult() const { return rep_ ? rep_->hresult : hresult::kOk; }
  const std::string& op() const;
  const std::string& id() const;
  const std::string& message() const;

  // withContext returns a copy whose op and id are set where they were empty.
  Status withContext(std::string_view op, std::string_view id) const;

  // errorEvents: HCS's ErrorEvents array (JSON) when the failure came with
  // one, else "". withErrorEvents returns a copy carrying them.
  const std::string& errorEvents() const;
  Status withErrorEvents(std::string eventsJson) const;

  // toString renders "op(id): message [Code, HRESULT 0x... NAME]" ("OK" when ok).
  std::string toString() const;

  friend bool operator==(const Status& a, const Status& b);

 private:
  struct Rep {
    Code code;
    HResult hresult;
    std::string op;
    std::string id;
    std::string message;
    std::string errorEvents;
  };
  std::shared_ptr<const Rep> rep_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

// OkStatus returns the OK status (reads well at call sites: `return OkStatus();`).
inline Status OkStatus() { return Status(); }

// Convenience constructors for canonical codes.
Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status FailedPreconditionError(std::string message);
Status UnavailableError(std::string message);
Status UnimplementedError(std::string message);
Status InternalError(std::string message);
Status DeadlineExceededError(std::string message);
Status CancelledError(std::string message);
Status ResourceExhaustedError(std::string message);
Status PermissionDeniedError(std::string message);
Status AbortedError(std::string message);

// validUtf8 replaces every byte that is not part of a valid UTF-8 sequence
// with "\xNN", so messages that quote hostile input can travel in protobuf
// string fields and JSON.
std::string validUtf8(std::string_view s);

// errnoStatus turns an errno value from `op` into a Status with a fitting code.
Status errnoStatus(int err, std::string op, std::string id = {});

// StatusOr holds a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(Code::kInternal, "StatusOr built from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  // On an rvalue the value is moved out (not referenced), so
  // `for (auto& x : *parse(...))` cannot dangle.
  T value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hcsshim

#define HCS_STATUS_CONCAT_INNER_(a, b) a##b
#define HCS_STATUS_CONCAT_(a, b) HCS_STATUS_CONCAT_INNER_(a, b)

// HCS_RETURN_IF_ERROR(expr): returns the Status of expr from the enclosing function if not OK.
#define HCS_RETURN_IF_ERROR(expr)                         \
  do {                                                    \
    ::hcsshim::Status hcs_status_ = (expr);               \
    if (!hcs_status_.ok()) return hcs_status_;            \
  } while (0)

// HCS_CO_RETURN_IF_ERROR: the same inside a coroutine.
#define HCS_CO_RETURN_IF_ERROR(expr)                      \
  do {                                                    \
    ::hcsshim::Status hcs_status_ = (expr);               \
    if (!hcs_status_.ok()) co_return hcs_status_;         \
  } while (0)

// HCS_ASSIGN_OR_RETURN(lhs, expr): evaluates a StatusOr, returns its error or assigns its value.
#define HCS_ASSIGN_OR_RETURN(lhs, expr) \
  HCS_ASSIGN_OR_RETURN_IMPL_(HCS_STATUS_CONCAT_(hcs_statusor_, __LINE__), lhs, expr, return)
#define HCS_CO_ASSIGN_OR_RETURN(lhs, expr) \
  HCS_ASSIGN_OR_RETURN_IMPL_(HCS_STATUS_CONCAT_(hcs_statusor_, __LINE__), lhs, expr, co_return)
#define HCS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr, ret) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) ret tmp.status();                      \
  lhs = std::move(tmp).value()
