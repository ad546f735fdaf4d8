#pragma once
// The message of the c10::Error a call throws: tests of bad input check that the refusal names
// what was wrong (the argument, the value, the file).
#include <c10/util/Exception.h>

#include <functional>
#include <string>

namespace selfsup::testing {

/// e.msg() of the c10::Error that f throws; "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.msg();
  }
  return "";
}

}  // namespace selfsup::testing
