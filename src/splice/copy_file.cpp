// copy_file(): copy_file_range where the kernel allows it, splice otherwise, read/write last.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>

#include "../sys/fd.hpp"
#include "error.hpp"
#include "splicefs/copy.hpp"
#include "splicefs/splice.hpp"

namespace splicefs::splice {

std::string_view to_string(CopyMethod m) noexcept {
    switch (m) {
        case CopyMethod::copy_file_range:
            return "copy_file_range";
        case CopyMethod::splice:
            return "splice";
        case CopyMethod::read_write:
            return "read_write";
    }
    return "unknown";
}

namespace {

struct stat fstat_or_throw(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) detail::throw_errno(errno, "fstat");
    return st;
}

class Copier {
public:
    Copier(int in, int out, const CopyOptions& opt) : in_(in), out_(out), opt_(opt) {
        if (opt_.chunk == 0) opt_.chunk = std::size_t{64} << 20;
    }

    CopyResult run() {
        switch (try_copy_file_range()) {
            case Next::done:
                return {total_, CopyMethod::copy_file_range};
            case Next::splice:
                break;
            case Next::read_write:
                return {read_write(), CopyMethod::read_write};
        }
        try {
            const std::size_t before = total_;
            splice_loop();
            // An empty first answer from copy_file_range (pseudo files report size 0) is
            // checked with splice; report copy_file_range if splice found nothing either.
            if (total_ == before && cfr_ended_clean_) return {total_, CopyMethod::copy_file_range};
            return {total_, CopyMethod::splice};
        } catch (const std::system_error& e) {
            // splice refuses O_APPEND and some O_DIRECT targets; positions are consistent
            // after a failure (splice() hands unwritten bytes back), so continue by hand.
            if (e.code().value() != EINVAL) throw;
            return {read_write(), CopyMethod::read_write};
        }
    }

private:
    enum class Next { done, splice, read_write };

    void progress() const {
        if (opt_.progress != nullptr) opt_.progress(total_, opt_.progress_context);
    }

    Next try_copy_file_range() {
        for (;;) {
            const ssize_t n = ::copy_file_range(in_, nullptr, out_, nullptr, opt_.chunk, 0);
            if (n > 0) {
                total_ += static_cast<std::size_t>(n);
                progress();
                continue;
            }
            if (n == 0) {
                if (total_ > 0) return Next::done;
                cfr_ended_clean_ = true;
                return Next::splice;
            }
            const int err = errno;
            switch (err) {
                case EINTR:
                    continue;
                case EXDEV:
                case EINVAL:
                case ENOSYS:
                case EOPNOTSUPP:
                    return Next::splice;
                case EBADF:
                    // An O_APPEND target: neither copy_file_range nor splice may write it.
                    if ((::fcntl(out_, F_GETFL) & O_APPEND) != 0) return Next::read_write;
                    [[fallthrough]];
                default:
                    detail::throw_errno(err, "copy_file_range");
            }
        }
    }

    void splice_loop() {
        for (;;) {
            const std::size_t n = splice::splice(out_, in_, std::nullopt, opt_.chunk);
            if (n == 0) return;
            total_ += n;
            progress();
        }
    }

    std::size_t read_write() {
        constexpr std::size_t kBuf = 128 * 1024;
        const auto buf = std::make_unique<char[]>(kBuf);
        for (;;) {
            const ssize_t n = ::read(in_, buf.get(), kBuf);
            if (n < 0) {
                if (errno == EINTR) continue;
                detail::throw_errno(errno, "read");
            }
            if (n == 0) return total_;
            std::size_t done = 0;
            while (done < static_cast<std::size_t>(n)) {
                const ssize_t w = ::write(out_, buf.get() + done, static_cast<std::size_t>(n) - done);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    detail::throw_errno(errno, "write");
                }
                done += static_cast<std::size_t>(w);
            }
            total_ += done;
            progress();
        }
    }

    int in_;
    int out_;
    CopyOptions opt_;
    std::size_t total_ = 0;
    bool cfr_ended_clean_ = false;
};

}  // namespace

CopyResult copy_file(FileRef src, FileRef dst, const CopyOptions& options) {
    sys::UniqueFd own_in;
    sys::UniqueFd own_out;
    int in = src.fd;
    if (src.path != nullptr) {
        own_in.reset(::open(src.path, O_RDONLY | O_CLOEXEC));
        if (!own_in) detail::throw_errno(errno, src.path);
        in = own_in.get();
    }
    const struct stat in_st = fstat_or_throw(in);
    int out = dst.fd;
    if (dst.path != nullptr) {
        // No O_TRUNC yet: truncating first would destroy a source that is the same file.
        own_out.reset(::open(dst.path, O_WRONLY | O_CREAT | O_CLOEXEC, in_st.st_mode & 07777));
        if (!own_out) detail::throw_errno(errno, dst.path);
        out = own_out.get();
    }
    const struct stat out_st = fstat_or_throw(out);
    if (S_ISREG(in_st.st_mode) && in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
        detail::throw_errno(EINVAL, "copy_file: source and destination are the same file");
    if (dst.path != nullptr && S_ISREG(out_st.st_mode) && ::ftruncate(out, 0) != 0)
        detail::throw_errno(errno, "ftruncate");
    return Copier(in, out, options).run();
}

}  // namespace splicefs::splice
