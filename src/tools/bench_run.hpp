#pragma once
// One timed transfer of a page-cache-warm file to one kind of destination, by one method.
#include <cstddef>
#include <string>
#include <string_view>

namespace splicefs::tools {

// How the sender moves file bytes. `library` is splicefs::splice::copy_file() with its defaults
// (Method::automatic, the per-destination chunk): the row that checks the library's choice.
enum class Method { read_send, sendfile, splice, library };
inline constexpr Method kMethods[] = {Method::read_send, Method::sendfile, Method::splice};

// Where the bytes go. tcp: a loopback connection; unix: an AF_UNIX stream socketpair; pipe: a pipe
// drained by the receiver thread; file: a regular file in --dir (truncated before each pass);
// null: /dev/null. Only tcp, unix and pipe have a receiver thread.
enum class Dest { tcp, unix_stream, pipe, file, null };
inline constexpr Dest kDests[] = {Dest::tcp, Dest::unix_stream, Dest::pipe, Dest::file, Dest::null};
bool has_receiver(Dest d) noexcept;

// What the receiver does with the bytes: splice them (through a pipe) into /dev/null, or read()
// them into a 1 MiB buffer as an ordinary program would.
enum class Receive { splice, read };

std::string_view name(Method m, Dest d) noexcept;  // "read+send" for sockets, "read+write" otherwise
std::string_view name(Dest d) noexcept;
std::string_view name(Receive r) noexcept;

struct Case {
    Dest dest = Dest::tcp;
    Receive receive = Receive::splice;
    std::size_t pipe = std::size_t{1} << 20;    // every pipe the bench makes: sender's, receiver's, dest
    std::size_t chunk = std::size_t{64} << 10;  // bytes per sending system call
    Method method = Method::sendfile;
};

struct PassResult {
    std::size_t bytes = 0;    // bytes that arrived (checked against the file size)
    double seconds = 0;       // first send to the receiver's end of stream (or the last write)
    double sender_cpu = 0;    // CPU seconds of the sending thread (CLOCK_THREAD_CPUTIME_ID)
    double receiver_cpu = 0;  // CPU seconds of the receiving thread; 0 without one
};

// Sends `size` bytes of `file_fd` (from offset 0) as `c` says; `dir` holds the file destination.
// Throws std::system_error / std::runtime_error.
PassResult run_pass(const Case& c, int file_fd, std::size_t size, const std::string& dir);

}  // namespace splicefs::tools
