// copy_file(): the method the measured rule picks for the destination, with fallbacks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
        case CopyMethod::sendfile:
            return "sendfile";
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
    Copier(int in, int out, Target target, const CopyOptions& opt)
        : in_(in), out_(out), target_(target), opt_(opt) {}

    CopyResult run() {
        switch (opt_.method) {
            case Method::automatic:
                break;
            case Method::copy_file_range:
                return forced(CopyMethod::copy_file_range);
            case Method::splice:
                return forced(CopyMethod::splice);
            case Method::read_write:
                return forced(CopyMethod::read_write);
            case Method::sendfile:
                return forced(CopyMethod::sendfile);
        }
        const CopyMethod first = choose(target_);
        chunk_ = opt_.chunk != 0 ? opt_.chunk : default_chunk(first, target_);
        switch (first) {
            case CopyMethod::copy_file_range:
                return from_copy_file_range();
            case CopyMethod::sendfile:
                return forced(CopyMethod::sendfile);
            case CopyMethod::splice:
                return from_splice();
            case CopyMethod::read_write:
                return {read_write(), CopyMethod::read_write};
        }
        return from_splice();
    }

private:
    enum class Next { done, splice, read_write };

    CopyResult forced(CopyMethod m) {
        chunk_ = opt_.chunk != 0 ? opt_.chunk : default_chunk(m, target_);
        switch (m) {
            case CopyMethod::copy_file_range:
                if (try_copy_file_range(false) != Next::done)
                    detail::throw_errno(EINVAL, "copy_file_range cannot copy between these files");
                break;
            case CopyMethod::sendfile:
                sendfile_loop();
                break;
            case CopyMethod::splice:
                splice_loop();
                break;
            case CopyMethod::read_write:
                read_write();
                break;
        }
        return {total_, m};
    }

    CopyResult from_copy_file_range() {
        switch (try_copy_file_range(true)) {
            case Next::done:
                return {total_, CopyMethod::copy_file_range};
            case Next::splice:
                break;
            case Next::read_write:
                return {read_write(), CopyMethod::read_write};
        }
        const std::size_t before = total_;
        const CopyResult r = from_splice();
        // An empty first answer from copy_file_range (pseudo files report size 0) is checked
        // with splice; report copy_file_range if splice found nothing either.
        if (r.method == CopyMethod::splice && total_ == before && cfr_ended_clean_)
            return {total_, CopyMethod::copy_file_range};
        return r;
    }

    CopyResult from_splice() {
        try {
            splice_loop();
            return {total_, CopyMethod::splice};
        } catch (const std::system_error& e) {
            // splice refuses O_APPEND and some O_DIRECT targets; positions are consistent
            // after a failure (splice() hands unwritten bytes back), so continue by hand.
            if (e.code().value() != EINVAL) throw;
            return {read_write(), CopyMethod::read_write};
        }
    }

    void progress() const {
        if (opt_.progress != nullptr) opt_.progress(total_, opt_.progress_context);
    }

    [[nodiscard]] std::size_t want() const noexcept { return std::min(chunk_, opt_.max_bytes - total_); }

    Next try_copy_file_range(bool may_fall_back) {
        for (;;) {
            if (want() == 0) return Next::done;
            const ssize_t n = ::copy_file_range(in_, nullptr, out_, nullptr, want(), 0);
            if (n > 0) {
                total_ += static_cast<std::size_t>(n);
                progress();
                continue;
            }
            if (n == 0) {
                if (total_ > 0 || !may_fall_back) return Next::done;
                cfr_ended_clean_ = true;
                return Next::splice;
            }
            const int err = errno;
            if (err == EINTR) continue;
            if (!may_fall_back) detail::throw_errno(err, "copy_file_range");
            switch (err) {
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

    void sendfile_loop() {
        while (want() > 0) {
            const std::size_t n = splice::sendfile(out_, in_, std::nullopt, want());
            if (n == 0) return;
            total_ += n;
            progress();
        }
    }

    void splice_loop() {
        while (want() > 0) {
            const std::size_t n = splice::splice(out_, in_, std::nullopt, want());
            if (n == 0) return;
            total_ += n;
            progress();
        }
    }

    std::size_t read_write() {
        // The chunk is the buffer, within bounds: a copy_file_range-sized chunk (64 MiB, for the
        // O_APPEND fallback) would only waste memory.
        const std::size_t kBuf = std::clamp(chunk_, std::size_t{4096}, std::size_t{1} << 20);
        const auto buf = std::make_unique<char[]>(kBuf);
        for (;;) {
            const std::size_t ask = std::min(kBuf, opt_.max_bytes - total_);
            if (ask == 0) return total_;
            const ssize_t n = ::read(in_, buf.get(), ask);
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
    Target target_;
    CopyOptions opt_;
    std::size_t chunk_ = 0;
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
    return Copier(in, out, target_of(out), options).run();
}

}  // namespace splicefs::splice
