# Compiler warnings, hardening and sanitizer flags for every Ferry target (issue 11).
include(CheckPIESupported)

option(FERRY_WERROR "Treat compiler warnings as errors" ON)
set(FERRY_SANITIZE "" CACHE STRING
    "Comma-separated sanitizers to build everything with, e.g. address,undefined (empty: none)")

add_compile_options(-Wall -Wextra -Wno-unused-parameter)
if(FERRY_WERROR)
  add_compile_options(-Werror)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports a mismatched new/delete inside Asio's coroutine frame allocator
    # (asio::aligned_new paired with awaitable_frame_base::operator delete), which is correct
    # code: keep the warning visible but not fatal.
    add_compile_options(-Wno-error=mismatched-new-delete)
  endif()
endif()

# Hardening, as Debian's dpkg-buildflags "hardening=+all" would give: position-independent
# executables, full RELRO, a non-executable stack, stack protector and stack-clash probes, and
# _FORTIFY_SOURCE=3 (needs optimisation; conflicts with ASan, so sanitizer and fuzz builds go
# without).
check_pie_supported()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
add_compile_options(-fstack-protector-strong -fstack-clash-protection)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64|AMD64")
  add_compile_options(-fcf-protection)
endif()
add_link_options(-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)
if(NOT FERRY_SANITIZE AND NOT FERRY_FUZZ AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_options(-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3)
endif()

if(FERRY_SANITIZE)
  add_compile_options(-fsanitize=${FERRY_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${FERRY_SANITIZE})
  # clang 14's -fsanitize=function (part of "undefined") puts prologue data before every
  # function, which the coroutine splitter moves apart from the function's section: every file
  # with an Asio coroutine fails with "Cannot represent a difference across sections"
  # (llvm-project#49689). Only that check goes; the rest of UBSan stays.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 15
     AND FERRY_SANITIZE MATCHES "undefined|function")
    add_compile_options(-fno-sanitize=function)
  endif()
endif()
