#pragma once
// One timed transfer of a file over a fresh loopback TCP connection.
#include <cstddef>
#include <string_view>

namespace splicefs::tools {

enum class Method { read_send, sendfile, splice };
inline constexpr Method kMethods[] = {Method::read_send, Method::sendfile, Method::splice};
std::string_view name(Method m) noexcept;

struct PassResult {
    std::size_t bytes = 0;    // bytes the receiver got (checked against the file size)
    double seconds = 0;       // first send to the receiver's end of stream
    double sender_cpu = 0;    // user+sys seconds of the sending thread
    double receiver_cpu = 0;  // user+sys seconds of the receiving thread
};

// Sends `size` bytes of `file_fd` (from offset 0) to a receiver thread that splices them into
// /dev/null, `chunk` bytes per system call. Throws std::system_error / std::runtime_error.
PassResult run_pass(Method method, int file_fd, std::size_t size, std::size_t chunk);

}  // namespace splicefs::tools
