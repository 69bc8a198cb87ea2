// The measured rule behind copy_file's Method::automatic: what the destination is, which method
// and chunk size won for it in `splice-bench --sweep` (README: "What zero-copy does and does not
// do on Linux 6.x" cites the rows).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "error.hpp"
#include "splicefs/copy.hpp"

namespace splicefs::splice {

namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = KiB * KiB;

bool is_loopback(const sockaddr_storage& a) noexcept {
    if (a.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
        return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
    }
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    if (IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr) && v6.sin6_addr.s6_addr[12] == 127;
}

bool same_host(const sockaddr_storage& a, const sockaddr_storage& b) noexcept {
    if (a.ss_family != b.ss_family) return false;
    if (a.ss_family == AF_INET)
        return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr;
    return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                       &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr, sizeof(in6_addr)) == 0;
}

// A connected TCP socket whose peer is this host: a loopback address, or our own address (the
// kernel routes that through the loopback device as well).
bool tcp_peer_is_local(int fd) noexcept {
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return false;
    sockaddr_storage peer{};
    sockaddr_storage self{};
    socklen_t plen = sizeof peer;
    socklen_t slen = sizeof self;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) return false;
    if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6) return false;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &slen) != 0) return false;
    return is_loopback(peer) || same_host(peer, self);
}

}  // namespace

Target target_of(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) detail::throw_errno(errno, "fstat");
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return Target::file;
    if (S_ISFIFO(st.st_mode)) return Target::pipe;
    if (S_ISSOCK(st.st_mode)) return tcp_peer_is_local(fd) ? Target::local_tcp : Target::socket;
    return Target::other;
}

CopyMethod choose(Target target) noexcept {
    switch (target) {
        case Target::file:
            return CopyMethod::copy_file_range;
        case Target::local_tcp:
            return CopyMethod::read_write;
        case Target::socket:
        case Target::pipe:
        case Target::other:
            return CopyMethod::splice;
    }
    return CopyMethod::splice;
}

std::size_t default_chunk(CopyMethod method, Target target) noexcept {
    switch (method) {
        case CopyMethod::copy_file_range:
            return 64 * MiB;  // the kernel copies extents; fewer calls, progress still visible
        case CopyMethod::read_write:
            return target == Target::local_tcp ? 64 * KiB : 1 * MiB;
        case CopyMethod::splice:
        case CopyMethod::sendfile:
            return 1 * MiB;  // one internal pipe's worth (1 MiB where pipe-max-size allows)
    }
    return 1 * MiB;
}

}  // namespace splicefs::splice
