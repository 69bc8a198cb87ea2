// File data: truncate, holes, fallocate, SEEK_DATA/SEEK_HOLE, copy_file_range, mmap.
#include <linux/falloc.h>

#include "scenario.hpp"

namespace posixtest {

SCENARIO(data, truncate_path_and_fd) {
    // libfuse passthrough: truncate by path and by fd.
    make_file(r, "f", pattern(10000));
    r.truncate("f", 100);
    r.cat("f");
    r.truncate("f", 50000);
    r.cat("f");
    r.stat("f");
    const int h = r.open("f", O_RDWR);
    r.ftruncate(h, 7);
    r.pread(h, 100, 0);
    r.ftruncate(h, 1 << 20);
    r.pread(h, 100, 4096);
    r.fstat(h);
    r.ftruncate(h, 0);
    r.fstat(h);
    r.ftruncate(h, -1);
    r.close(h);
    const int ro = r.open("f", O_RDONLY);
    r.ftruncate(ro, 10);
    r.close(ro);
    r.truncate("missing", 0);
    r.mkdir("d");
    r.truncate("d", 0);
    r.truncate("f", -5);
}

SCENARIO(data, holes_read_as_zeros) {
    // libfuse passthrough: seek with holes.
    const int h = r.open("f", O_RDWR | O_CREAT, 0644);
    r.pwrite(h, "start", 0);
    r.pwrite(h, "middle", 300000);
    r.lseek(h, 2 << 20, SEEK_SET);
    r.write(h, "end");
    r.fstat(h);
    r.pread(h, 8192, 4096);
    r.pread(h, 20, 299995);
    r.pread(h, 200000, 100000);
    r.close(h);
    r.cat("f");
    r.truncate("f", 3 << 20);
    r.cat("f");
}

SCENARIO(data, seek_data_hole) {
    const int h = r.open("f", O_RDWR | O_CREAT, 0644);
    r.pwrite(h, pattern(4096), 0);
    r.pwrite(h, pattern(4096, 2), 1 << 20);
    r.ftruncate(h, 2 << 20);
    r.fsync(h);
    for (const off_t off : {0L, 100L, 4096L, 8192L, 1L << 20, (1L << 20) + 4096, 2L << 20, 3L << 20}) {
        r.lseek(h, off, SEEK_DATA);
        r.lseek(h, off, SEEK_HOLE);
    }
    r.close(h);
    const int e = r.open("empty", O_RDWR | O_CREAT, 0644);
    r.lseek(e, 0, SEEK_DATA);
    r.lseek(e, 0, SEEK_HOLE);
    r.close(e);
}

SCENARIO(data, fallocate_modes) {
    r.set_blocks(true);
    const int h = r.open("f", O_RDWR | O_CREAT, 0644);
    r.write(h, pattern(20000));
    r.fsync(h);
    r.fstat(h);
    r.fallocate(h, 0, 0, 65536);  // default: grows the size
    r.fstat(h);
    r.fallocate(h, FALLOC_FL_KEEP_SIZE, 65536, 1 << 20);
    r.fstat(h);
    r.fallocate(h, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192);
    r.fstat(h);
    r.pread(h, 16384, 0);
    r.fallocate(h, FALLOC_FL_PUNCH_HOLE, 0, 4096);  // PUNCH_HOLE needs KEEP_SIZE
    r.fallocate(h, FALLOC_FL_ZERO_RANGE, 0, 100);
    r.pread(h, 200, 0);
    r.fallocate(h, 0, -1, 10);
    r.fallocate(h, 0, 0, 0);
    r.begin_known("KD-SEEK-UNWRITTEN");
    r.lseek(h, 4096, SEEK_DATA);
    r.lseek(h, 0, SEEK_HOLE);
    r.end_known();
    r.close(h);
    const int ro = r.open("f", O_RDONLY);
    r.fallocate(ro, 0, 0, 100);
    r.close(ro);
    r.cat("f");
}

SCENARIO(data, copy_file_range) {
    make_file(r, "src", pattern(300000));
    const int in = r.open("src", O_RDONLY);
    const int out = r.open("dst", O_RDWR | O_CREAT, 0644);
    r.copy_file_range(in, 0, out, 0, 100000);
    r.copy_file_range(in, 250000, out, 500000, 100000);  // short: source ends at 300000
    r.copy_file_range(in, 400000, out, 0, 10);           // past EOF: 0
    r.fstat(out);
    r.copy_file_range(out, 0, out, 50, 100);  // overlapping range in one file: EINVAL
    r.copy_file_range(out, 0, out, 200000, 100);
    r.copy_file_range(in, 0, in, 0, 10);  // into a read-only handle
    r.close(out);
    r.close(in);
    r.cat("dst");
}

SCENARIO(data, mmap_shared_writes) {
    make_file(r, "f", pattern(10000));
    const int h = r.open("f", O_RDWR);
    r.mmap_write(h, 10000, 100, "MAPPED", false);
    r.pread(h, 20, 95);  // the same page cache: visible without msync
    r.mmap_write(h, 10000, 5000, "SYNCED", true);
    r.pread(h, 20, 4995);
    r.close(h);
    r.cat("f");
    const int ro = r.open("f", O_RDONLY);
    r.mmap_write(ro, 10000, 0, "no", false);  // EACCES: shared writable map of a read-only fd
    r.close(ro);
}

// Mappings of a file opened O_DIRECT (through FUSE a direct-io handle: FUSE_DIRECT_IO_ALLOW_MMAP),
// shared and private, reading and writing; the file is read back with a plain open.
SCENARIO(data, mmap_of_odirect_open) {
    make_file(r, "f", pattern(3 * 4096 + 100));
    const int h = r.open("f", O_RDWR | O_DIRECT);
    r.mmap_read(h, 8192, 95, 20, true);
    r.mmap_write(h, 8192, 100, "SHARED", true);
    r.cat("f");
    r.mmap_read(h, 8192, 4090, 20, false, "PRIVATE");  // stays in the private copy
    r.cat("f");
    r.mmap_read(h, 8192, 95, 20, true);
    r.close(h);
    const int ro = r.open("f", O_RDONLY | O_DIRECT);
    r.mmap_read(ro, 4096, 0, 16, true);
    r.mmap_read(ro, 4096, 0, 16, false, "cow");  // a private writable map of a read-only fd is fine
    r.mmap_write(ro, 4096, 0, "no", false);      // EACCES: shared writable map of a read-only fd
    r.close(ro);
    r.cat("f");
}

SCENARIO(data, append_races_within_one_process) {
    const int a = r.open("f", O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int b = r.open("f", O_WRONLY | O_APPEND);
    const int c = r.open("f", O_RDWR);
    for (int i = 0; i < 20; ++i) {
        r.write(a, "a" + std::to_string(i));
        r.write(b, "b" + std::to_string(i));
        r.pwrite(c, "c", i * 3);
    }
    r.fstat(c);
    r.close(a);
    r.close(b);
    r.close(c);
    r.cat("f");
}

SCENARIO(data, large_appends) {
    // Appending writes bigger than a page reach the daemon through libfuse's pipe, which cannot
    // be spliced into an O_APPEND file: the daemon's copy path, in one piece per request.
    auto block = [](std::size_t n, std::size_t seed) {
        std::string s(n, '\0');
        for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + (seed + i * 7 + i / 4096) % 26);
        return s;
    };
    const int a = r.open("f", O_WRONLY | O_CREAT | O_APPEND, 0644);
    r.write(a, block(300000, 1));
    r.pwrite(a, block(200001, 2), 0);  // appends all the same (Linux)
    r.write(a, block(1 << 20, 3));
    r.fstat(a);
    r.close(a);
    const int b = r.open("f", O_RDONLY);
    r.pread(b, 4096, 299998);
    r.pread(b, 4096, 500000);
    r.close(b);
    r.cat("f");
}

SCENARIO(data, write_past_end_and_reads_at_eof) {
    make_file(r, "f", "short");
    const int h = r.open("f", O_RDWR);
    r.pread(h, 10, 5);
    r.pread(h, 10, 100);
    r.pwrite(h, "far", 70000);
    r.pread(h, 10, 69998);
    r.lseek(h, 0, SEEK_END);
    r.read(h, 10);
    r.pwrite(h, "", 200000);  // zero-length write does not extend
    r.fstat(h);
    r.pwrite(h, "x", -1);
    r.pread(h, 1, -1);
    r.close(h);
}

}  // namespace posixtest
