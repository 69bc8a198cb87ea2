// The one boundary between libfuse's C callbacks and the op implementations: every adapter
// is noexcept, times the op, turns a returned errno (or an exception) into exactly one
// fuse_reply_err, and counts errors.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/xattr.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <new>
#include <system_error>
#include <tuple>
#include <type_traits>

#include "fs/filesystem.hpp"
#include "fs/inflight.hpp"
#include "fs/offload.hpp"
#include "fs/ops.hpp"
#include "fs/tuning.hpp"

namespace splicefs::fs {

namespace {

class OpTimer {
public:
    explicit OpTimer(OpCounters& counters) noexcept
        : counters_(counters), start_(std::chrono::steady_clock::now()) {}
    ~OpTimer() {
        const auto elapsed = std::chrono::steady_clock::now() - start_;
        counters_.calls.fetch_add(1, std::memory_order_relaxed);
        counters_.latency.record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
    }
    OpTimer(const OpTimer&) = delete;
    OpTimer& operator=(const OpTimer&) = delete;
    void failed() noexcept { counters_.errors.fetch_add(1, std::memory_order_relaxed); }

private:
    OpCounters& counters_;
    std::chrono::steady_clock::time_point start_;
};

// Ops that hybrid serving (offload.hpp) hands to the pool: they move much data or may block.
constexpr bool may_offload(Op op) noexcept {
    return op == Op::Read || op == Op::Fsync || op == Op::Fsyncdir || op == Op::Flock ||
           op == Op::Fallocate || op == Op::CopyFileRange;
}

// Ops whose repeat would change what a program sees: a resend after a failover is answered
// from their record (inflight.hpp). setattr is not among them: it sets explicit values, and
// running it twice leaves what running it once does.
constexpr bool may_record(Op op) noexcept {
    return op == Op::Mkdir || op == Op::Mknod || op == Op::Symlink || op == Op::Link || op == Op::Unlink ||
           op == Op::Rmdir || op == Op::Rename || op == Op::Create || op == Op::Write || op == Op::Open ||
           op == Op::Opendir || op == Op::Setxattr || op == Op::Removexattr;
}

// An argument as kept for a pool thread: libfuse's fuse_file_info lives on the reader's
// stack and is gone once the op returns, so it travels by value.
template <typename T>
struct Kept {
    static_assert(!std::is_pointer_v<T>, "only fuse_file_info* may cross to the pool");
    T value;
    explicit Kept(T v) noexcept : value(v) {}
    T get() noexcept { return value; }
};
template <>
struct Kept<fuse_file_info*> {
    fuse_file_info copy{};
    bool null = true;
    explicit Kept(const fuse_file_info* fi) noexcept : null(fi == nullptr) {
        if (fi != nullptr) copy = *fi;
    }
    fuse_file_info* get() noexcept { return null ? nullptr : &copy; }
};

template <Op kOp, auto Impl>
struct Adapter;

template <Op kOp, typename... Args, int (*Impl)(Fs&, fuse_req_t, Args...)>
struct Adapter<kOp, Impl> {
    static void call(fuse_req_t req, Args... args) noexcept {
        fs_of(req).on_request();
        if constexpr (may_offload(kOp)) {
            Fs& fs = fs_of(req);
            if (fs.offloader && wants_pool(args...) && offload(*fs.offloader, req, args...)) return;
        }
        run(req, args...);
    }

private:
    static bool wants_pool(Args... args) noexcept {
        if constexpr (kOp == Op::Read) {
            // Smaller reads stay on the serving thread: the hand-off costs more than the splice.
            const std::size_t size = std::get<1>(std::tuple<Args...>(args...));
            const std::size_t threshold = std::size_t{tuning::knobs().offload_read_kb} * 1024;
            return threshold != 0 && size >= threshold;
        } else if constexpr (kOp == Op::Flock) {
            // Only a blocking acquisition can wait; an unlock or LOCK_NB answers at once, and
            // must not queue behind waiters that wait for it.
            const int op = std::get<2>(std::tuple<Args...>(args...));
            return (op & LOCK_NB) == 0 && (op & (LOCK_SH | LOCK_EX)) != 0;
        } else {
            return true;
        }
    }

    static bool offload(Offloader& pool, fuse_req_t req, Args... args) noexcept {
        try {
            return pool.submit(
                [req, kept = std::tuple<Kept<Args>...>(Kept<Args>(args)...)]() mutable noexcept {
                    std::apply([req](auto&... k) { run(req, k.get()...); }, kept);
                });
        } catch (const std::exception&) {
            return false;  // no memory for the job: answer on this thread
        }
    }

    // Of writes, only appending ones (a repeated pwrite at an offset writes the same bytes);
    // of setxattrs, only XATTR_CREATE ones (a repeated plain set or replace sets the same value).
    // Every open is recorded: a repeat would leave the first delivery's handle to nobody.
    static bool recorded(Args... args) noexcept {
        if constexpr (kOp == Op::Write) {
            return (std::get<3>(std::tuple<Args...>(args...))->flags & O_APPEND) != 0;
        } else if constexpr (kOp == Op::Setxattr) {
            return (std::get<4>(std::tuple<Args...>(args...)) & XATTR_CREATE) != 0;
        } else {
            return true;
        }
    }

    static int invoke(Fs& fs, fuse_req_t req, Args... args) {
        if constexpr (may_record(kOp)) {
            if (fs.mirror && recorded(args...)) {
                const inflight::Scope scope(fs, req, kOp);
                if (scope.error() != 0) return scope.error();
                return Impl(fs, req, args...);
            }
        }
        return Impl(fs, req, args...);
    }

    static void run(fuse_req_t req, Args... args) noexcept {
        Fs& fs = fs_of(req);
        OpTimer timer(fs.stats.op(kOp));
        int err = 0;
        try {
            err = invoke(fs, req, args...);
        } catch (const std::bad_alloc&) {
            err = ENOMEM;
        } catch (const std::system_error& e) {
            err = e.code().value() != 0 ? e.code().value() : EIO;
        } catch (...) {
            err = EIO;
        }
        if (err != 0) {
            timer.failed();
            if (spdlog::should_log(spdlog::level::debug)) {
                spdlog::debug("{}: {}", op_name(kOp), std::generic_category().message(err));
            }
            fuse_reply_err(req, err);
        } else if (spdlog::should_log(spdlog::level::trace)) {
            spdlog::trace("{}: ok", op_name(kOp));
        }
    }
};

template <Op kOp, auto Impl>
constexpr auto adapt = &Adapter<kOp, Impl>::call;

void init_adapter(void* userdata, fuse_conn_info* conn) noexcept {
    try {
        ops::init(*static_cast<Fs*>(userdata), conn);
    } catch (const std::exception& e) {
        spdlog::error("init: {}", e.what());
    }
}

fuse_lowlevel_ops build_ops() noexcept {
    fuse_lowlevel_ops o{};
    o.init = init_adapter;
    o.lookup = adapt<Op::Lookup, ops::lookup>;
    o.forget = adapt<Op::Forget, ops::forget>;
    o.forget_multi = adapt<Op::Forget, ops::forget_multi>;
    o.getattr = adapt<Op::Getattr, ops::getattr>;
    o.setattr = adapt<Op::Setattr, ops::setattr>;
    o.readlink = adapt<Op::Readlink, ops::readlink>;
    o.mknod = adapt<Op::Mknod, ops::mknod>;
    o.mkdir = adapt<Op::Mkdir, ops::mkdir>;
    o.unlink = adapt<Op::Unlink, ops::unlink>;
    o.rmdir = adapt<Op::Rmdir, ops::rmdir>;
    o.symlink = adapt<Op::Symlink, ops::symlink>;
    o.rename = adapt<Op::Rename, ops::rename>;
    o.link = adapt<Op::Link, ops::link>;
    o.open = adapt<Op::Open, ops::open>;
    o.read = adapt<Op::Read, ops::read>;
    o.write_buf = adapt<Op::Write, ops::write_buf>;
    o.flush = adapt<Op::Flush, ops::flush>;
    o.release = adapt<Op::Release, ops::release>;
    o.fsync = adapt<Op::Fsync, ops::fsync>;
    o.opendir = adapt<Op::Opendir, ops::opendir>;
    o.readdir = adapt<Op::Readdir, ops::readdir>;
    o.readdirplus = adapt<Op::Readdirplus, ops::readdirplus>;
    o.releasedir = adapt<Op::Releasedir, ops::releasedir>;
    o.fsyncdir = adapt<Op::Fsyncdir, ops::fsyncdir>;
    o.statfs = adapt<Op::Statfs, ops::statfs>;
    o.setxattr = adapt<Op::Setxattr, ops::setxattr>;
    o.getxattr = adapt<Op::Getxattr, ops::getxattr>;
    o.listxattr = adapt<Op::Listxattr, ops::listxattr>;
    o.removexattr = adapt<Op::Removexattr, ops::removexattr>;
    o.access = adapt<Op::Access, ops::access>;
    o.create = adapt<Op::Create, ops::create>;
    o.flock = adapt<Op::Flock, ops::flock>;
    o.fallocate = adapt<Op::Fallocate, ops::fallocate>;
    o.copy_file_range = adapt<Op::CopyFileRange, ops::copy_file_range>;
    o.lseek = adapt<Op::Lseek, ops::lseek>;
    return o;
}

}  // namespace

const fuse_lowlevel_ops& lowlevel_ops() noexcept {
    static const fuse_lowlevel_ops table = build_ops();
    return table;
}

}  // namespace splicefs::fs
