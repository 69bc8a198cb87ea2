#include "bench_run.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "../sys/fd.hpp"
#include "splicefs/splice.hpp"

namespace splicefs::tools {

namespace sp = splicefs::splice;
using sys::UniqueFd;
using Clock = std::chrono::steady_clock;

std::string_view name(Method m) noexcept {
    switch (m) {
        case Method::read_send:
            return "read+send";
        case Method::sendfile:
            return "sendfile";
        case Method::splice:
            return "splice";
    }
    return "?";
}

namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

double thread_cpu_seconds() {
    rusage ru{};
    if (::getrusage(RUSAGE_THREAD, &ru) != 0) throw_errno("getrusage");
    const auto tv = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

UniqueFd listen_loopback(sockaddr_in& addr) {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("socket");
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind");
    if (::listen(s.get(), 1) != 0) throw_errno("listen");
    socklen_t len = sizeof addr;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) throw_errno("getsockname");
    return s;
}

struct Receiver {
    std::size_t bytes = 0;
    double cpu = 0;
    Clock::time_point end{};
    std::exception_ptr error;

    // Accepts one connection and discards everything: socket -> pipe -> /dev/null.
    void run(int listener) noexcept {
        try {
            UniqueFd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
            if (!conn) throw_errno("accept");
            UniqueFd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
            if (!devnull) throw_errno("/dev/null");
            const double cpu0 = thread_cpu_seconds();
            for (;;) {
                const std::size_t n =
                    sp::splice(devnull.get(), conn.get(), std::nullopt, std::size_t{1} << 20);
                if (n == 0) break;
                bytes += n;
            }
            end = Clock::now();
            cpu = thread_cpu_seconds() - cpu0;
        } catch (...) {
            error = std::current_exception();
        }
    }
};

void send_all(int sock, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::send(sock, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno("send");
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

void send_file(Method method, int sock, int file_fd, std::size_t size, std::size_t chunk) {
    std::unique_ptr<char[]> buf;
    if (method == Method::read_send) buf = std::make_unique<char[]>(chunk);
    std::size_t off = 0;
    while (off < size) {
        const std::size_t want = std::min(chunk, size - off);
        std::size_t n = 0;
        switch (method) {
            case Method::read_send: {
                const ssize_t r = ::pread(file_fd, buf.get(), want, static_cast<off_t>(off));
                if (r < 0) {
                    if (errno == EINTR) continue;
                    throw_errno("pread");
                }
                n = static_cast<std::size_t>(r);
                send_all(sock, buf.get(), n);
                break;
            }
            case Method::sendfile:
                n = sp::sendfile(sock, file_fd, static_cast<off_t>(off), want);
                break;
            case Method::splice:
                n = sp::splice(sock, file_fd, static_cast<off_t>(off), want);
                break;
        }
        if (n == 0) throw std::runtime_error("file shorter than --size");
        off += n;
    }
}

}  // namespace

PassResult run_pass(Method method, int file_fd, std::size_t size, std::size_t chunk) {
    sockaddr_in addr{};
    const UniqueFd listener = listen_loopback(addr);
    Receiver receiver;
    std::thread rx([&] { receiver.run(listener.get()); });

    PassResult result;
    std::exception_ptr send_error;
    Clock::time_point start{};
    try {
        UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!sock) throw_errno("socket");
        if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
            throw_errno("connect");
        const double cpu0 = thread_cpu_seconds();
        start = Clock::now();
        send_file(method, sock.get(), file_fd, size, chunk);
        result.sender_cpu = thread_cpu_seconds() - cpu0;
    } catch (...) {
        send_error = std::current_exception();
    }
    // The socket is closed here (end of stream), or the accept is still pending: unblock it.
    if (send_error) ::shutdown(listener.get(), SHUT_RDWR);
    rx.join();
    if (send_error) std::rethrow_exception(send_error);
    if (receiver.error) std::rethrow_exception(receiver.error);
    if (receiver.bytes != size) throw std::runtime_error("receiver got a different byte count than was sent");
    result.bytes = receiver.bytes;
    result.receiver_cpu = receiver.cpu;
    result.seconds = std::chrono::duration<double>(receiver.end - start).count();
    return result;
}

}  // namespace splicefs::tools
