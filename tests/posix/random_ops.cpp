#include "random_ops.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <array>
#include <random>

namespace posixtest {
namespace {

// A small namespace so that operations collide often.
constexpr std::array<const char*, 10> kPaths = {"a", "b", "c", "d", "d/a", "d/b", "e", "e/a", "d/f/a", "a/x"};
constexpr int kSlots = 4;

enum Kind {
    kOpen,
    kClose,
    kWrite,
    kPwrite,
    kRead,
    kPread,
    kSeek,
    kFtruncate,
    kTruncate,
    kFallocate,
    kFsync,
    kFstat,
    kUnlink,
    kMkdir,
    kRmdir,
    kRename,
    kLink,
    kSymlink,
    kReadlink,
    kStat,
    kLstat,
    kChmod,
    kUtimens,
    kSetxattr,
    kGetxattr,
    kListxattr,
    kRemovexattr,
    kListdir,
    kCat,
    kCopyRange,
    kKinds
};

constexpr std::array<int, 5> kOpenFlags = {O_RDWR | O_CREAT, O_WRONLY | O_CREAT | O_TRUNC, O_RDONLY,
                                           O_RDWR | O_APPEND | O_CREAT, O_RDWR | O_CREAT | O_EXCL};
constexpr std::array<mode_t, 5> kModes = {0644, 0600, 0755, 0444, 01777};
constexpr std::array<unsigned, 3> kRenameFlags = {0, RENAME_NOREPLACE, RENAME_EXCHANGE};
constexpr std::array<int, 4> kFallocModes = {
    0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE};

std::string data_for(long seed, long len) {
    std::string s(static_cast<std::size_t>(len), '\0');
    auto x = static_cast<unsigned long>(seed) * 6364136223846793005UL + 1;
    for (auto& c : s) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        c = static_cast<char>('A' + (x >> 59));
    }
    return s;
}

}  // namespace

std::vector<RandomOp> generate_ops(std::uint64_t seed, std::size_t count) {
    std::mt19937_64 rng(seed);
    auto pick = [&](long n) { return static_cast<long>(rng() % static_cast<std::uint64_t>(n)); };
    auto size = [&]() -> long {
        switch (pick(4)) {
            case 0:
                return pick(16);
            case 1:
                return pick(5000);
            case 2:
                return 4096 * (1 + pick(40));
            default:
                return pick(300000);
        }
    };
    std::vector<RandomOp> ops;
    ops.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        RandomOp op;
        // Weighted: data operations and opens are the most frequent.
        const long w = pick(100);
        if (w < 14)
            op.kind = kOpen;
        else if (w < 17)
            op.kind = kClose;
        else if (w < 27)
            op.kind = kWrite;
        else if (w < 35)
            op.kind = kPwrite;
        else if (w < 40)
            op.kind = kRead;
        else if (w < 45)
            op.kind = kPread;
        else
            op.kind = static_cast<int>(kSeek + pick(kKinds - kSeek));
        // Mostly names whose parent exists; now and then one below a file or a missing dir.
        auto path = [&] { return static_cast<int>(pick(10) < 9 ? pick(8) : 8 + pick(2)); };
        op.a = path();
        op.b = path();
        switch (op.kind) {
            case kOpen:
                op.x = pick(kOpenFlags.size());
                op.y = pick(kSlots);
                break;
            case kWrite:
            case kPwrite:
                op.x = size();
                op.y = pick(1 << 20);
                break;
            case kRead:
            case kPread:
                op.x = size();
                op.y = pick(400000);
                break;
            case kSeek:
                op.x = pick(400000);
                op.y = pick(5);
                break;
            case kFtruncate:
            case kTruncate:
                op.x = size();
                break;
            case kFallocate:
                op.x = pick(kFallocModes.size());
                op.y = size();
                break;
            case kRename:
                op.x = pick(kRenameFlags.size());
                break;
            case kChmod:
                op.x = pick(kModes.size());
                break;
            case kUtimens:
                op.x = 1000000000 + pick(1000000);
                op.y = pick(1000000000);
                break;
            case kSetxattr:
                op.x = pick(3);
                op.y = pick(3);
                break;
            case kGetxattr:
            case kRemovexattr:
                op.x = pick(3);
                break;
            case kCopyRange:
                op.x = size();
                op.y = pick(300000);
                break;
            default:
                break;
        }
        ops.push_back(op);  // handle operations take their slot from `a` modulo the slot count
    }
    return ops;
}

std::string describe(const RandomOp& op) {
    static constexpr std::array<const char*, kKinds> names = {
        "open",     "close",     "write",       "pwrite",  "read",   "pread",          "lseek",   "ftruncate",
        "truncate", "fallocate", "fsync",       "fstat",   "unlink", "mkdir",          "rmdir",   "rename",
        "link",     "symlink",   "readlink",    "stat",    "lstat",  "chmod",          "utimens", "setxattr",
        "getxattr", "listxattr", "removexattr", "listdir", "cat",    "copy_file_range"};
    return std::string(names[static_cast<std::size_t>(op.kind)]) + "{a=" + std::to_string(op.a) +
           ", b=" + std::to_string(op.b) + ", x=" + std::to_string(op.x) + ", y=" + std::to_string(op.y) +
           "}";
}

void run_ops(Recorder& r, const std::vector<RandomOp>& ops, std::vector<std::size_t>* step_of_op) {
    std::array<int, kSlots> slot{};
    slot.fill(-1);
    // Handle operations use slot s, or the next slot holding an open handle, so that most of
    // them act on a file (both sides have the same open slots until they diverge).
    auto slot_of = [&](int s) {
        for (int k = 0; k < kSlots; ++k) {
            const auto i = static_cast<std::size_t>((s + k) % kSlots);
            if (r.ok(slot[i])) return i;
        }
        return static_cast<std::size_t>(s % kSlots);
    };
    auto h = [&](int s) { return slot[slot_of(s)]; };
    // A starting tree: two directories and two files with content.
    r.mkdir("d", 0755);
    r.mkdir("e", 0755);
    for (const char* name : {"a", "d/a"}) {
        const int fd = r.open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        r.write(fd, data_for(name[0], 70000));
        r.close(fd);
    }
    static const char* const kXattrNames[] = {"user.one", "user.two", "user.three"};
    // Long random histories fragment files; st_blocks then counts extent-tree blocks whose
    // number depends on where the allocator found space, not on POSIX.
    r.set_blocks(false);
    bool unwritten = false;  // a fallocate may have left unwritten extents
    for (const auto& op : ops) {
        if (step_of_op != nullptr) step_of_op->push_back(r.steps());
        const char* pa = kPaths[static_cast<std::size_t>(op.a)];
        const char* pb = kPaths[static_cast<std::size_t>(op.b)];
        const int s = op.a % kSlots;
        switch (op.kind) {
            case kOpen: {
                const auto k = static_cast<std::size_t>(op.y % kSlots);
                if (r.ok(slot[k])) r.close(slot[k]);
                slot[k] = r.open(pa, kOpenFlags[static_cast<std::size_t>(op.x)], 0644);
                break;
            }
            case kClose: {
                const auto i = slot_of(s);
                r.close(slot[i]);
                slot[i] = -1;
                break;
            }
            case kWrite:
                r.write(h(s), data_for(op.y, op.x));
                break;
            case kPwrite:
                r.pwrite(h(s), data_for(op.y, op.x), op.y);
                break;
            case kRead:
                r.read(h(s), static_cast<std::size_t>(op.x));
                break;
            case kPread:
                r.pread(h(s), static_cast<std::size_t>(op.x), op.y);
                break;
            case kSeek: {
                static constexpr int whence[] = {SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE};
                // FUSE seeks directories in the kernel (no FUSE_LSEEK for them): documented.
                // SEEK_DATA/SEEK_HOLE over unwritten (fallocated) extents report page-cache
                // state, which FUSE's readahead changes: documented as well.
                struct stat st {};
                const bool dir = ::fstat(r.raw_fd(h(s)), &st) == 0 && S_ISDIR(st.st_mode);
                const int wh = whence[op.y % 5];
                const bool unwritten_seek = unwritten && (wh == SEEK_DATA || wh == SEEK_HOLE);
                if (dir) r.begin_known("KD-DIR-LSEEK");
                if (!dir && unwritten_seek) r.begin_known("KD-SEEK-UNWRITTEN");
                r.lseek(h(s), op.x, wh);
                if (dir || unwritten_seek) {
                    r.end_known();
                    r.lseek(h(s), 0, SEEK_SET);  // the same position on both sides again
                }
                break;
            }
            case kFtruncate:
                r.ftruncate(h(s), op.x);
                break;
            case kTruncate:
                r.truncate(pa, op.x);
                break;
            case kFallocate:
                if (kFallocModes[static_cast<std::size_t>(op.x)] !=
                    (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
                    unwritten = true;
                }
                r.fallocate(h(s), kFallocModes[static_cast<std::size_t>(op.x)], 4096, op.y + 1);
                break;
            case kFsync:
                r.fsync(h(s));
                break;
            case kFstat:
                r.fstat(h(s));
                break;
            case kUnlink:
                r.unlink(pa);
                break;
            case kMkdir:
                r.mkdir(pa, 0755);
                break;
            case kRmdir:
                r.rmdir(pa);
                break;
            case kRename:
                r.rename(pa, pb, kRenameFlags[static_cast<std::size_t>(op.x)]);
                break;
            case kLink:
                r.link(pa, pb);
                break;
            case kSymlink:
                r.symlink(pb, pa);
                break;
            case kReadlink:
                r.readlink(pa);
                break;
            case kStat:
                r.stat(pa);
                break;
            case kLstat:
                r.lstat(pa);
                break;
            case kChmod:
                r.chmod(pa, kModes[static_cast<std::size_t>(op.x)]);
                break;
            case kUtimens: {
                const struct timespec t[2] = {{op.x, op.y}, {op.x + 7, op.y}};
                r.utimens(pa, t);
                break;
            }
            case kSetxattr:
                r.setxattr(pa, kXattrNames[op.x], data_for(op.y, 5 + op.y * 40),
                           op.y == 1   ? XATTR_CREATE
                           : op.y == 2 ? XATTR_REPLACE
                                       : 0);
                break;
            case kGetxattr:
                r.getxattr(pa, kXattrNames[op.x]);
                break;
            case kListxattr:
                r.listxattr(pa);
                break;
            case kRemovexattr:
                r.removexattr(pa, kXattrNames[op.x]);
                break;
            case kListdir:
                r.listdir(op.a % 2 == 0 ? "" : pa);
                break;
            case kCat:
                r.cat(pa);
                break;
            case kCopyRange:
                r.copy_file_range(h(s), op.y, h(op.b), op.y / 2, static_cast<std::size_t>(op.x));
                break;
            default:
                break;
        }
    }
}

std::vector<RandomOp> shrink(std::vector<RandomOp> ops,
                             const std::function<bool(const std::vector<RandomOp>&)>& fails, int budget) {
    std::size_t chunk = ops.size() / 2;
    while (chunk >= 1 && budget > 0) {
        bool removed = false;
        for (std::size_t start = 0; start < ops.size() && budget > 0;) {
            std::vector<RandomOp> candidate;
            candidate.reserve(ops.size());
            candidate.insert(candidate.end(), ops.begin(), ops.begin() + static_cast<std::ptrdiff_t>(start));
            const std::size_t end = std::min(ops.size(), start + chunk);
            candidate.insert(candidate.end(), ops.begin() + static_cast<std::ptrdiff_t>(end), ops.end());
            --budget;
            if (!candidate.empty() && fails(candidate)) {
                ops = std::move(candidate);
                removed = true;
            } else {
                start += chunk;
            }
        }
        if (!removed) chunk /= 2;
        if (ops.size() == 1) break;
    }
    return ops;
}

}  // namespace posixtest
