#include "bench_run.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "../sys/fd.hpp"
#include "splicefs/copy.hpp"

namespace splicefs::tools {

using sys::UniqueFd;
using Clock = std::chrono::steady_clock;

bool has_receiver(Dest d) noexcept {
    return d == Dest::tcp || d == Dest::unix_stream || d == Dest::pipe;
}

std::string_view name(Method m, Dest d) noexcept {
    switch (m) {
        case Method::read_send:
            return d == Dest::tcp || d == Dest::unix_stream ? "read+send" : "read+write";
        case Method::sendfile:
            return "sendfile";
        case Method::splice:
            return "splice";
        case Method::library:
            return "library";
    }
    return "?";
}

std::string_view name(Dest d) noexcept {
    switch (d) {
        case Dest::tcp:
            return "tcp";
        case Dest::unix_stream:
            return "unix";
        case Dest::pipe:
            return "pipe";
        case Dest::file:
            return "file";
        case Dest::null:
            return "null";
    }
    return "?";
}

std::string_view name(Receive r) noexcept {
    return r == Receive::splice ? "splice" : "read";
}

namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// Exact CPU time of the calling thread (the scheduler's runtime, not tick samples). On loopback
// it includes the softirq work the kernel does in this thread's context (the TCP receive path
// usually runs in the sender's).
double thread_cpu_seconds() {
    timespec ts{};
    if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) throw_errno("clock_gettime");
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

// A pipe of `size` bytes; fails loudly when the kernel refuses that size (pipe-max-size).
Pipe make_pipe(std::size_t size) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
    const int got = ::fcntl(p.write.get(), F_SETPIPE_SZ, static_cast<int>(size));
    if (got < 0) throw_errno("F_SETPIPE_SZ (see /proc/sys/fs/pipe-max-size)");
    return p;
}

// The two ends of a stream connection: tcp over loopback or an AF_UNIX socketpair.
struct Connection {
    UniqueFd send;
    UniqueFd receive;
};

Connection connect_tcp() {
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener) throw_errno("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        throw_errno("bind");
    if (::listen(listener.get(), 1) != 0) throw_errno("listen");
    socklen_t len = sizeof addr;
    if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw_errno("getsockname");
    UniqueFd out(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!out) throw_errno("socket");
    // Loopback connect completes against the backlog before accept() runs.
    if (::connect(out.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        throw_errno("connect");
    UniqueFd in(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!in) throw_errno("accept");
    return {std::move(out), std::move(in)};
}

Connection connect_unix() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct Receiver {
    Receive mode = Receive::splice;
    std::size_t pipe_size = 0;
    std::size_t bytes = 0;
    double cpu = 0;
    Clock::time_point end{};
    std::exception_ptr error;

    // Drains `in` to its end: spliced into /dev/null (through a pipe unless `in` is one), or
    // read into a buffer.
    void run(int in, bool in_is_pipe) noexcept {
        try {
            const double cpu0 = thread_cpu_seconds();
            if (mode == Receive::read)
                read_all(in);
            else
                splice_all(in, in_is_pipe);
            end = Clock::now();
            cpu = thread_cpu_seconds() - cpu0;
        } catch (...) {
            error = std::current_exception();
        }
    }

    void read_all(int in) {
        constexpr std::size_t kBuf = std::size_t{1} << 20;
        const auto buf = std::make_unique<char[]>(kBuf);
        for (;;) {
            const ssize_t n = ::read(in, buf.get(), kBuf);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_errno("receiver read");
            }
            if (n == 0) return;
            bytes += static_cast<std::size_t>(n);
        }
    }

    void splice_all(int in, bool in_is_pipe) {
        UniqueFd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
        if (!devnull) throw_errno("/dev/null");
        if (in_is_pipe) {
            while (const std::size_t n = splice_some(in, devnull.get())) bytes += n;
            return;
        }
        Pipe p = make_pipe(pipe_size);
        while (const std::size_t n = splice_some(in, p.write.get())) {
            bytes += n;
            for (std::size_t left = n; left > 0;) left -= splice_some(p.read.get(), devnull.get(), left);
        }
    }

    // One splice(2) of up to `len` bytes (default: a pipe's worth); 0 at end of stream.
    std::size_t splice_some(int in, int out, std::size_t len = 0) const {
        for (;;) {
            const ssize_t n = ::splice(in, nullptr, out, nullptr, len != 0 ? len : pipe_size, 0);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) throw_errno("receiver splice");
        }
    }
};

// send() on sockets (what a server would call), write() on pipes and files: one call per try.
void write_all(int fd, bool socket, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = socket ? ::send(fd, p, n, MSG_NOSIGNAL) : ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno(socket ? "send" : "write");
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

// file -> pipe -> out, as the library's splice() does when neither side is a pipe, but with a
// pipe of the case's size. Returns the bytes moved (a full `want` unless the file ends).
std::size_t splice_via(Pipe& pipe, std::size_t pipe_size, int out, int file_fd, loff_t& off,
                       std::size_t want) {
    std::size_t moved = 0;
    while (moved < want) {
        const ssize_t in =
            ::splice(file_fd, &off, pipe.write.get(), nullptr, std::min(want - moved, pipe_size), 0);
        if (in < 0) {
            if (errno == EINTR) continue;
            throw_errno("splice (file -> pipe)");
        }
        if (in == 0) break;
        for (auto left = static_cast<std::size_t>(in); left > 0;) {
            const ssize_t o = ::splice(pipe.read.get(), nullptr, out, nullptr, left, 0);
            if (o <= 0) {
                if (o < 0 && errno == EINTR) continue;
                throw_errno("splice (pipe -> destination)");
            }
            left -= static_cast<std::size_t>(o);
        }
        moved += static_cast<std::size_t>(in);
    }
    return moved;
}

void send_file(const Case& c, int out, bool out_is_pipe, int file_fd, std::size_t size) {
    if (c.method == Method::library) {
        if (::lseek(file_fd, 0, SEEK_SET) != 0) throw_errno("lseek");
        splice::CopyOptions options;
        options.max_bytes = size;
        if (splice::copy_file(file_fd, out, options).bytes != size)
            throw std::runtime_error("copy_file stopped short");
        return;
    }
    const bool socket = c.dest == Dest::tcp || c.dest == Dest::unix_stream;
    std::unique_ptr<char[]> buf;
    if (c.method == Method::read_send) buf = std::make_unique<char[]>(c.chunk);
    Pipe pipe;
    if (c.method == Method::splice && !out_is_pipe) pipe = make_pipe(c.pipe);
    loff_t off = 0;
    while (static_cast<std::size_t>(off) < size) {
        const std::size_t want = std::min(c.chunk, size - static_cast<std::size_t>(off));
        ssize_t n = 0;
        switch (c.method) {
            case Method::read_send:
                n = ::pread(file_fd, buf.get(), want, off);
                if (n > 0) write_all(out, socket, buf.get(), static_cast<std::size_t>(n));
                if (n > 0) off += n;
                break;
            case Method::sendfile:
                n = ::sendfile(out, file_fd, &off, want);
                break;
            case Method::splice:
                n = out_is_pipe ? ::splice(file_fd, &off, out, nullptr, want, 0)
                                : static_cast<ssize_t>(splice_via(pipe, c.pipe, out, file_fd, off, want));
                break;
            case Method::library:
                break;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno(name(c.method, c.dest).data());
        }
        if (n == 0) throw std::runtime_error("file shorter than --size");
    }
}

// The destination of one pass: the fd the sender writes, and what the receiver drains (if any).
struct Destination {
    UniqueFd out;
    UniqueFd drain;
    bool is_pipe = false;
};

Destination open_destination(const Case& c, const std::string& dir) {
    switch (c.dest) {
        case Dest::tcp: {
            auto conn = connect_tcp();
            return {std::move(conn.send), std::move(conn.receive), false};
        }
        case Dest::unix_stream: {
            auto conn = connect_unix();
            return {std::move(conn.send), std::move(conn.receive), false};
        }
        case Dest::pipe: {
            Pipe p = make_pipe(c.pipe);
            return {std::move(p.write), std::move(p.read), true};
        }
        case Dest::file: {
            std::string tmpl = dir + "/splice-bench-out-XXXXXX";
            UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
            if (!fd) throw_errno("mkstemp for the file destination");
            ::unlink(tmpl.c_str());
            return {std::move(fd), {}, false};
        }
        case Dest::null: {
            UniqueFd fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
            if (!fd) throw_errno("/dev/null");
            return {std::move(fd), {}, false};
        }
    }
    throw std::logic_error("unknown destination");
}

}  // namespace

PassResult run_pass(const Case& c, int file_fd, std::size_t size, const std::string& dir) {
    Destination dest = open_destination(c, dir);
    Receiver receiver;
    receiver.mode = c.receive;
    receiver.pipe_size = c.pipe;
    std::thread rx;
    if (dest.drain) rx = std::thread([&] { receiver.run(dest.drain.get(), dest.is_pipe); });

    PassResult result;
    std::exception_ptr send_error;
    Clock::time_point start{};
    Clock::time_point sent{};
    try {
        const double cpu0 = thread_cpu_seconds();
        start = Clock::now();
        send_file(c, dest.out.get(), dest.is_pipe, file_fd, size);
        sent = Clock::now();
        result.sender_cpu = thread_cpu_seconds() - cpu0;
    } catch (...) {
        send_error = std::current_exception();
    }
    // Closing the sending end is the receiver's end of stream (also after a failure).
    dest.out.reset();
    if (rx.joinable()) rx.join();
    if (send_error) std::rethrow_exception(send_error);
    if (receiver.error) std::rethrow_exception(receiver.error);
    result.bytes = dest.drain ? receiver.bytes : size;
    if (result.bytes != size)
        throw std::runtime_error("the receiver got a different byte count than was sent");
    result.receiver_cpu = receiver.cpu;
    result.seconds = std::chrono::duration<double>((dest.drain ? receiver.end : sent) - start).count();
    return result;
}

}  // namespace splicefs::tools
