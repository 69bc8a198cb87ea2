#pragma once
// FUSE over io_uring, as Linux 6.14+ speaks it (protocol 7.42+); Debian 12's linux-libc-dev
// (6.1) has none of it. Transcribed from the kernel's include/uapi/linux/fuse.h and
// Documentation/filesystems/fuse-io-uring.rst (and fs/fuse/dev_uring.c for what the
// kernel checks), and checked on this machine's 6.18 by the uring mount tests:
//  - INIT: the kernel offers FUSE_OVER_IO_URING (bit 41 = flags2 bit 9) only while the fuse
//    module's enable_uring parameter is Y; the server accepts it by echoing the bit.
//  - Each ring entry is an IORING_OP_URING_CMD on the /dev/fuse fd, in a ring set up with
//    IORING_SETUP_SQE128 (the 80-byte command area holds fuse_uring_cmd_req). REGISTER takes
//    sqe->addr = two iovecs (sqe->len = 2): a header buffer >= sizeof(FuseUringReqHeader) and a
//    payload buffer >= max(8 KiB, max_write, max_pages * page). Its CQE arrives when the kernel
//    has put a request in the entry; COMMIT_AND_FETCH (commit_id = the request's) answers it and
//    hands the entry back.
//  - One queue per possible CPU (qid = CPU number); a request goes to the queue of the CPU its
//    caller runs on, and the kernel uses the rings only once every queue has an entry.
//  - A request in an entry: fuse_in_header in in_out, the op's own header (h.len - 40 -
//    payload_sz bytes, at most 128) in op_in, the rest (names, WRITE data) in the payload.
//    A reply: fuse_out_header in in_out, everything after it in the payload, its length in
//    ring_ent_in_out.payload_sz.
//  - Still on /dev/fuse: INIT, what the kernel queued before the rings were complete,
//    FORGET/BATCH_FORGET and INTERRUPT (fuse_io_uring_ops), and every notification the server
//    writes (unique 0 is refused on a ring).
#include <cstddef>
#include <cstdint>

namespace splicefs::transport::abi {

inline constexpr std::uint32_t kOverIoUringFlags2 = 1U << 9;  // FUSE_OVER_IO_URING, bit 41

inline constexpr std::size_t kInOutHeaderSize = 128;  // FUSE_URING_IN_OUT_HEADER_SZ
inline constexpr std::size_t kOpInOutSize = 128;      // FUSE_URING_OP_IN_OUT_SZ
inline constexpr unsigned kIovecs = 2;                // FUSE_URING_IOV_SEGS: header, payload
inline constexpr std::size_t kMinReadBuffer = 8192;   // FUSE_MIN_READ_BUFFER

enum Cmd : std::uint32_t {  // enum fuse_uring_cmd
    kCmdInvalid = 0,
    kCmdRegister = 1,        // FUSE_IO_URING_CMD_REGISTER
    kCmdCommitAndFetch = 2,  // FUSE_IO_URING_CMD_COMMIT_AND_FETCH
};

struct FuseUringEntInOut {  // struct fuse_uring_ent_in_out
    std::uint64_t flags;
    std::uint64_t commit_id;  // the request's id, to be echoed in the commit
    std::uint32_t payload_sz;
    std::uint32_t padding;
    std::uint64_t reserved;
};

struct FuseUringReqHeader {  // struct fuse_uring_req_header
    std::byte in_out[kInOutHeaderSize];
    std::byte op_in[kOpInOutSize];
    FuseUringEntInOut ring_ent_in_out;
};

struct FuseUringCmdReq {  // struct fuse_uring_cmd_req, in the SQE's command area
    std::uint64_t flags;
    std::uint64_t commit_id;
    std::uint16_t qid;
    std::uint8_t padding[6];
};

static_assert(sizeof(FuseUringEntInOut) == 32);
static_assert(sizeof(FuseUringReqHeader) == 288);
static_assert(sizeof(FuseUringCmdReq) == 24);

}  // namespace splicefs::transport::abi
