// copy_file's Method::automatic: the destination rule, default chunks, forced methods, max_bytes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "splice_test_support.hpp"
#include "splicefs/copy.hpp"

namespace splicefs::splice::test {
namespace {

struct SocketPair {
    UniqueFd a;
    UniqueFd b;
    SocketPair() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
            throw std::system_error(errno, std::generic_category(), "socketpair");
        a.reset(fds[0]);
        b.reset(fds[1]);
    }
};

// A loopback TCP connection (client, accepted server end).
struct TcpPair {
    UniqueFd client;
    UniqueFd server;
    explicit TcpPair(int family = AF_INET, in_addr_t v4_address = htonl(INADDR_LOOPBACK)) {
        UniqueFd listener(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_storage addr{};
        socklen_t len = 0;
        if (family == AF_INET) {
            auto& v4 = reinterpret_cast<sockaddr_in&>(addr);
            v4.sin_family = AF_INET;
            v4.sin_addr.s_addr = v4_address;
            len = sizeof v4;
        } else {
            auto& v6 = reinterpret_cast<sockaddr_in6&>(addr);
            v6.sin6_family = AF_INET6;
            v6.sin6_addr = in6addr_loopback;
            len = sizeof v6;
        }
        if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
            ::listen(listener.get(), 1) != 0 ||
            ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            throw std::system_error(errno, std::generic_category(), "loopback listener");
        client.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!client || ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
            throw std::system_error(errno, std::generic_category(), "connect");
        server.reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!server) throw std::system_error(errno, std::generic_category(), "accept");
    }
};

// An IPv4 address of this host that is not a loopback one (e.g. eth0's), if there is one up.
std::optional<in_addr_t> own_non_loopback_v4() {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return std::nullopt;
    std::optional<in_addr_t> found;
    for (const ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_UP) == 0)
            continue;
        const in_addr_t a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr;
        if ((ntohl(a) >> 24) != 127) found = a;
    }
    ::freeifaddrs(list);
    return found;
}

// Drains `fd` to end of stream on a thread (a socket or pipe fills long before 1 MiB).
class Drain {
public:
    explicit Drain(int fd) : thread_([this, fd] { got_ = read_fd(fd); }) {}
    std::string finish() {
        thread_.join();
        return got_;
    }

private:
    std::string got_;
    std::thread thread_;
};

class SpliceAuto : public ::testing::Test {
protected:
    TempDir dir;
    std::string data = random_bytes(3 * 1024 * 1024 + 77, 5);
    void SetUp() override { make_file(dir.file("src"), data); }
};

TEST_F(SpliceAuto, TargetOfTellsDestinationsApart) {
    auto file = open_fd(dir.file("src"), O_RDONLY);
    SocketPair s;
    Pipe p;
    auto null = open_fd("/dev/null", O_WRONLY);
    EXPECT_EQ(target_of(file.get()), Target::file);
    EXPECT_EQ(target_of(s.a.get()), Target::socket);
    TcpPair tcp;
    EXPECT_EQ(target_of(tcp.client.get()), Target::local_tcp);
    EXPECT_EQ(target_of(tcp.server.get()), Target::local_tcp);
    UniqueFd unconnected(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(target_of(unconnected.get()), Target::socket);
    EXPECT_EQ(target_of(p.w.get()), Target::pipe);
    EXPECT_EQ(target_of(null.get()), Target::other);
    EXPECT_EQ(errno_of([] { (void)target_of(-1); }), EBADF);
}

TEST_F(SpliceAuto, OwnNonLoopbackAddressIsLocal) {
    const auto address = own_non_loopback_v4();
    if (!address) GTEST_SKIP() << "no non-loopback IPv4 address is up";
    TcpPair tcp(AF_INET, *address);  // routed through the loopback device all the same
    EXPECT_EQ(target_of(tcp.client.get()), Target::local_tcp);
}

TEST_F(SpliceAuto, RulePicksPerDestination) {
    EXPECT_EQ(choose(Target::file), CopyMethod::copy_file_range);
    EXPECT_EQ(choose(Target::local_tcp), CopyMethod::read_write);
    EXPECT_EQ(choose(Target::socket), CopyMethod::splice);
    EXPECT_EQ(choose(Target::pipe), CopyMethod::splice);
    EXPECT_EQ(choose(Target::other), CopyMethod::splice);
}

TEST_F(SpliceAuto, DefaultChunksFollowTheSweep) {
    // README, splice-bench --sweep: the chunks whose rows were within 10 % of the best.
    EXPECT_EQ(default_chunk(CopyMethod::read_write, Target::local_tcp), std::size_t{64} << 10);
    EXPECT_EQ(default_chunk(CopyMethod::splice, Target::socket), std::size_t{1} << 20);
    EXPECT_EQ(default_chunk(CopyMethod::splice, Target::pipe), std::size_t{1} << 20);
    EXPECT_EQ(default_chunk(CopyMethod::copy_file_range, Target::file), std::size_t{64} << 20);
}

TEST_F(SpliceAuto, UnixSocketGetsSpliceInDefaultChunks) {
    SocketPair s;
    Drain drain(s.b.get());
    std::vector<std::size_t> steps;
    CopyOptions opt;
    opt.progress = [](std::size_t done, void* ctx) {
        static_cast<std::vector<std::size_t>*>(ctx)->push_back(done);
    };
    opt.progress_context = &steps;
    const auto r = copy_file(dir.file("src").c_str(), s.a.get(), opt);
    s.a.reset();
    EXPECT_EQ(r.method, CopyMethod::splice);
    EXPECT_EQ(r.bytes, data.size());
    EXPECT_EQ(drain.finish(), data);
    // One progress call per chunk: none moved more than the default chunk.
    const std::size_t chunk = default_chunk(CopyMethod::splice, Target::socket);
    std::size_t prev = 0;
    for (const auto done : steps) {
        EXPECT_LE(done - prev, chunk);
        prev = done;
    }
    EXPECT_GE(steps.size(), data.size() / chunk);
}

TEST_F(SpliceAuto, LocalTcpPeerGetsReadWrite) {
    for (const int family : {AF_INET, AF_INET6}) {
        std::unique_ptr<TcpPair> tcp;
        try {
            tcp = std::make_unique<TcpPair>(family);
        } catch (const std::system_error& e) {
            if (family == AF_INET6) GTEST_SKIP() << "no IPv6 loopback: " << e.what();
            throw;
        }
        Drain drain(tcp->server.get());
        std::vector<std::size_t> steps;
        CopyOptions opt;
        opt.progress = [](std::size_t done, void* ctx) {
            static_cast<std::vector<std::size_t>*>(ctx)->push_back(done);
        };
        opt.progress_context = &steps;
        const auto r = copy_file(dir.file("src").c_str(), tcp->client.get(), opt);
        tcp->client.reset();
        EXPECT_EQ(r.method, CopyMethod::read_write) << family;
        EXPECT_EQ(r.bytes, data.size());
        EXPECT_EQ(drain.finish(), data);
        EXPECT_GE(steps.size(), data.size() / default_chunk(CopyMethod::read_write, Target::local_tcp));
        // Forced zero-copy over the same kind of connection still works.
        TcpPair again(family);
        Drain drain2(again.server.get());
        opt.method = Method::sendfile;
        opt.progress = nullptr;
        EXPECT_EQ(copy_file(dir.file("src").c_str(), again.client.get(), opt).method, CopyMethod::sendfile);
        again.client.reset();
        EXPECT_EQ(drain2.finish(), data);
    }
}

TEST_F(SpliceAuto, PipeSourceToSocketFallsBackToSplice) {
    Pipe in;
    SocketPair s;
    Drain drain(s.b.get());
    const std::string part = data.substr(0, 60000);  // fits the pipe: no writer thread needed
    write_all(in.w.get(), part);
    in.w.reset();
    const auto r = copy_file(in.r.get(), s.a.get());
    s.a.reset();
    EXPECT_EQ(r.method, CopyMethod::splice);
    EXPECT_EQ(r.bytes, part.size());
    EXPECT_EQ(drain.finish(), part);
}

TEST_F(SpliceAuto, PipeTargetGetsSplice) {
    Pipe p;
    Drain drain(p.r.get());
    const auto r = copy_file(dir.file("src").c_str(), p.w.get());
    p.w.reset();
    EXPECT_EQ(r.method, CopyMethod::splice);
    EXPECT_EQ(drain.finish(), data);
}

TEST_F(SpliceAuto, MaxBytesStopsThereAndKeepsThePosition) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    SocketPair s;
    Drain drain(s.b.get());
    CopyOptions opt;
    opt.max_bytes = 100000;
    ASSERT_EQ(::lseek(in.get(), 5, SEEK_SET), 5);
    EXPECT_EQ(copy_file(in.get(), s.a.get(), opt).bytes, 100000U);
    EXPECT_EQ(position(in.get()), 100005);
    s.a.reset();
    EXPECT_EQ(drain.finish(), data.substr(5, 100000));
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    opt.max_bytes = 12345;
    EXPECT_EQ(copy_file(in.get(), out.get(), opt).bytes, 12345U);
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(100005, 12345));
}

TEST_F(SpliceAuto, ForcedMethodIsUsedOrFails) {
    CopyOptions opt;
    opt.method = Method::read_write;
    auto r = copy_file(dir.file("src").c_str(), dir.file("a").c_str(), opt);
    EXPECT_EQ(r.method, CopyMethod::read_write);
    EXPECT_EQ(read_file(dir.file("a")), data);
    opt.method = Method::splice;
    r = copy_file(dir.file("src").c_str(), dir.file("b").c_str(), opt);
    EXPECT_EQ(r.method, CopyMethod::splice);
    EXPECT_EQ(read_file(dir.file("b")), data);
    opt.method = Method::sendfile;
    r = copy_file(dir.file("src").c_str(), dir.file("c").c_str(), opt);
    EXPECT_EQ(r.method, CopyMethod::sendfile);
    EXPECT_EQ(read_file(dir.file("c")), data);
    // No fallback when forced: copy_file_range cannot read a pipe, sendfile cannot either.
    Pipe p;
    write_all(p.w.get(), "abc");
    p.w.reset();
    auto out = open_fd(dir.file("d"), O_WRONLY | O_CREAT);
    opt.method = Method::copy_file_range;
    EXPECT_EQ(errno_of([&] { (void)copy_file(p.r.get(), out.get(), opt); }), EINVAL);
    opt.method = Method::sendfile;
    EXPECT_EQ(errno_of([&] { (void)copy_file(p.r.get(), out.get(), opt); }), EINVAL);
    EXPECT_EQ(read_fd(p.r.get()), "abc");  // nothing was consumed
}

}  // namespace
}  // namespace splicefs::splice::test
