#include "transport/uring.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "sys/fd.hpp"
#include "transport/fuse_uring_abi.hpp"
#include "transport/uring_frame.hpp"

namespace splicefs::transport {

namespace {
// Entries per queue. The queue thread serves one request at a time, so a few are enough to
// start with; the others hold requests handed to the pool (fsync, flock...). The kernel never
// moves a request to another queue, so while the pool holds entries the queue registers more
// (as the pool grows threads), keeping kMinIdle with the kernel: eight flocks waiting on one
// CPU must not starve that CPU's other requests.
constexpr unsigned kInitialDepth = 4;
constexpr unsigned kMinIdle = 2;
constexpr unsigned kMaxDepth = 128;
constexpr std::uint64_t kEventTag = 1;  // user_data of the eventfd read; entries are pointers

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

// The kernel makes one queue per possible CPU (num_possible_cpus()); "0-1", "0,2-5".
unsigned possible_cpus() {
    std::ifstream in("/sys/devices/system/cpu/possible");
    std::string text;
    unsigned highest = 0;
    if (in >> text) {
        std::size_t pos = 0;
        while (pos < text.size()) {
            const std::size_t end = text.find(',', pos);
            const std::string part =
                text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
            const std::size_t dash = part.find('-');
            highest = std::max(
                highest,
                static_cast<unsigned>(std::stoul(dash == std::string::npos ? part : part.substr(dash + 1))));
            if (end == std::string::npos) break;
            pos = end + 1;
        }
        return highest + 1;
    }
    return std::max(1U, std::thread::hardware_concurrency());
}
}  // namespace

struct Queue;

struct Entry {
    abi::FuseUringReqHeader header{};
    std::unique_ptr<std::byte[]> buffer;  // kRequestSlack, then the payload
    std::size_t payload_size = 0;
    std::array<iovec, abi::kIovecs> iov{};
    std::size_t slot = 0;
    Queue* queue = nullptr;
    bool served = false;  // had a request: a later error is the connection ending

    std::byte* payload() const { return buffer.get() + kRequestSlack; }
    std::span<std::byte> slack_and_payload() const { return {buffer.get(), kRequestSlack + payload_size}; }
};

struct Queue {
    unsigned qid = 0;
    io_uring ring{};
    bool ring_ready = false;
    std::vector<std::unique_ptr<Entry>> entries;  // the queue thread's alone
    unsigned idle = 0;                            // entries the kernel holds, waiting for requests
    std::atomic<std::uint64_t> served{0};         // requests this queue's ring brought
    sys::UniqueFd event;
    std::uint64_t event_value = 0;
    std::mutex mu;                // the mailbox
    std::vector<Entry*> mailbox;  // replied on other threads, to be committed by this one
    std::vector<Entry*> drained;  // the queue thread's own copy of the mailbox
    std::thread thread;
};

class Rings {
public:
    Rings(fuse_session* se, bool wanted) : se_(se), fuse_fd_(fuse_session_fd(se)), wanted_(wanted) {}
    Rings(const Rings&) = delete;
    Rings& operator=(const Rings&) = delete;
    ~Rings() { stop(); }

    bool wanted() const noexcept { return wanted_ && !started_.load(std::memory_order_relaxed); }
    bool active() const noexcept { return running_.load(std::memory_order_acquire); }
    void start(std::size_t payload_size);
    void stop();
    ssize_t write_reply(int fd, const iovec* iov, int count);

private:
    void run(Queue& q);
    bool setup(Queue& q);
    void serve(Queue& q, Entry& e);
    void commit(Queue& q, Entry& e);
    void commit_from_mailbox(Queue& q);
    void arm_event(Queue& q);
    void add_entry(Queue& q);
    io_uring_sqe* sqe(Queue& q);
    void prep_cmd(io_uring_sqe* s, abi::Cmd cmd, std::uint64_t commit_id, unsigned qid, Entry& e) const;
    bool on_error(Entry& e, int err);

    fuse_session* se_;
    int fuse_fd_;
    bool wanted_;
    std::atomic<bool> started_{false};
    std::atomic<bool> running_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> announced_{false};
    std::vector<std::unique_ptr<Queue>> queues_;
    std::size_t payload_size_ = 0;
    bool pin_ = true;
    std::unique_ptr<std::atomic<Entry*>[]> slots_;  // slot (qid * kMaxDepth + i) -> entry
    std::unique_ptr<InflightTable> table_;
};

namespace {
std::atomic<Rings*> g_rings{nullptr};
thread_local Entry* tl_entry = nullptr;  // the ring request this thread serves inline
thread_local Queue* tl_queue = nullptr;  // set on queue threads
}  // namespace

void Rings::start(std::size_t payload_size) {
    if (started_.exchange(true)) return;
    // A measurement knob (scripts/bench-transport.sh): SPLICEFS_URING_PIN=0 leaves the queue
    // threads to the scheduler.
    const char* pin = std::getenv("SPLICEFS_URING_PIN");  // NOLINT(concurrency-mt-unsafe): before the threads
    pin_ = pin == nullptr || std::string_view(pin) != "0";
    const unsigned n = possible_cpus();
    payload_size_ = payload_size;
    table_ = std::make_unique<InflightTable>(std::size_t{n} * kMaxDepth);
    slots_ = std::make_unique<std::atomic<Entry*>[]>(std::size_t{n} * kMaxDepth);
    for (unsigned qid = 0; qid < n; ++qid) {
        auto q = std::make_unique<Queue>();
        q->qid = qid;
        q->event.reset(::eventfd(0, EFD_CLOEXEC));
        if (!q->event) {
            refuse(("cannot create an eventfd: " + errno_text(errno)).c_str());
            return;
        }
        queues_.push_back(std::move(q));
    }
    running_.store(true, std::memory_order_release);
    for (auto& q : queues_) q->thread = std::thread([this, &q = *q] { run(q); });
    spdlog::info("transport: io_uring, {} queues of {}..{} entries of {} KiB", n, kInitialDepth, kMaxDepth,
                 payload_size / 1024);
}

void Rings::stop() {
    if (stopping_.exchange(true)) return;
    for (auto& q : queues_) {
        if (q->event) (void)::eventfd_write(q->event.get(), 1);
    }
    for (auto& q : queues_) {
        if (q->thread.joinable()) q->thread.join();
    }
    running_.store(false, std::memory_order_release);
    if (queues_.empty()) return;
    std::string per_queue;
    std::uint64_t total = 0;
    for (const auto& q : queues_) {
        const auto n = q->served.load(std::memory_order_relaxed);
        total += n;
        per_queue += (per_queue.empty() ? "" : ", ") + std::to_string(n);
    }
    spdlog::info("transport: the rings brought {} requests (per queue: {})", total, per_queue);
}

io_uring_sqe* Rings::sqe(Queue& q) {
    io_uring_sqe* s = io_uring_get_sqe(&q.ring);
    if (s == nullptr) {
        (void)io_uring_submit(&q.ring);
        s = io_uring_get_sqe(&q.ring);
    }
    return s;
}

void Rings::prep_cmd(io_uring_sqe* s, abi::Cmd cmd, std::uint64_t commit_id, unsigned qid, Entry& e) const {
    const bool reg = cmd == abi::kCmdRegister;
    io_uring_prep_rw(IORING_OP_URING_CMD, s, fuse_fd_, reg ? e.iov.data() : nullptr, reg ? abi::kIovecs : 0,
                     0);
    s->cmd_op = cmd;
    abi::FuseUringCmdReq req{};
    req.commit_id = commit_id;
    req.qid = static_cast<std::uint16_t>(qid);
    // The 80-byte command area of a 128-byte SQE, past the first 48 bytes.
    std::memset(s->cmd, 0, 80);
    std::memcpy(s->cmd, &req, sizeof(req));
    io_uring_sqe_set_data(s, &e);
}

void Rings::arm_event(Queue& q) {
    io_uring_sqe* s = sqe(q);
    if (s == nullptr) return;
    io_uring_prep_read(s, q.event.get(), &q.event_value, sizeof(q.event_value), 0);
    io_uring_sqe_set_data64(s, kEventTag);
}

void Rings::add_entry(Queue& q) {
    auto e = std::make_unique<Entry>();
    e->payload_size = payload_size_;
    e->buffer = std::make_unique_for_overwrite<std::byte[]>(kRequestSlack + payload_size_);
    e->iov[0] = {&e->header, sizeof(e->header)};
    e->iov[1] = {e->payload(), payload_size_};
    e->slot = std::size_t{q.qid} * kMaxDepth + q.entries.size();
    e->queue = &q;
    slots_[e->slot].store(e.get(), std::memory_order_release);
    prep_cmd(sqe(q), abi::kCmdRegister, 0, q.qid, *e);
    q.entries.push_back(std::move(e));
    ++q.idle;
}

bool Rings::setup(Queue& q) {
    if (pin_) {
        // Near its CPU's callers; a daemon confined elsewhere (taskset) keeps its own CPUs.
        cpu_set_t cpus;
        CPU_ZERO(&cpus);
        CPU_SET(q.qid, &cpus);
        (void)pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
    }
    io_uring_params params{};
    params.flags = IORING_SETUP_SQE128 | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
    const int rc = io_uring_queue_init_params(64, &q.ring, &params);
    if (rc < 0) {
        refuse(("io_uring_setup with 128-byte SQEs failed: " + errno_text(-rc)).c_str());
        return false;
    }
    q.ring_ready = true;
    for (unsigned i = 0; i < kInitialDepth; ++i) add_entry(q);
    arm_event(q);
    const int submitted = io_uring_submit(&q.ring);
    if (submitted < 0) {
        refuse(("submitting FUSE_IO_URING_CMD_REGISTER failed: " + errno_text(-submitted)).c_str());
        return false;
    }
    return true;
}

void Rings::run(Queue& q) {
    tl_queue = &q;
    if (setup(q)) {
        while (!stopping_.load(std::memory_order_acquire)) {
            const int rc = io_uring_submit_and_wait(&q.ring, 1);
            if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
                spdlog::error("transport: io_uring queue {} failed: {}", q.qid, errno_text(-rc));
                break;
            }
            io_uring_cqe* cqe = nullptr;
            while (io_uring_peek_cqe(&q.ring, &cqe) == 0) {
                const std::uint64_t tag = io_uring_cqe_get_data64(cqe);
                const int res = cqe->res;
                io_uring_cqe_seen(&q.ring, cqe);
                if (tag == kEventTag) {
                    commit_from_mailbox(q);
                    if (!stopping_.load(std::memory_order_acquire)) arm_event(q);
                    continue;
                }
                auto& e =
                    *reinterpret_cast<Entry*>(tag);  // NOLINT(performance-no-int-to-ptr): our own pointer
                --q.idle;
                if (res < 0) {
                    // An entry the kernel dropped while the connection lives (a commit whose
                    // request was gone): replaced, so the queue keeps its depth.
                    if (on_error(e, -res) && q.entries.size() < kMaxDepth) add_entry(q);
                } else {
                    serve(q, e);
                    if (q.idle < kMinIdle && q.entries.size() < kMaxDepth) add_entry(q);
                }
            }
        }
    }
    if (q.ring_ready) io_uring_queue_exit(&q.ring);
    tl_queue = nullptr;
}

// True when the entry should be replaced.
bool Rings::on_error(Entry& e, int err) {
    const bool connection_gone = err == ENOTCONN || err == ECONNABORTED || err == ENODEV;
    if (connection_gone || stopping_.load()) {
        spdlog::debug("transport: io_uring entry ended: {}", errno_text(err));
        return false;
    }
    if (e.served) {
        spdlog::warn("transport: the kernel dropped a ring entry ({}); registering another", errno_text(err));
        return true;
    }
    refuse(("the kernel refused FUSE_IO_URING_CMD_REGISTER: " + errno_text(err)).c_str());
    return false;
}

void Rings::serve(Queue& q, Entry& e) {
    e.served = true;
    if (!announced_.exchange(true)) spdlog::info("transport: io_uring serving requests");
    const auto request = assemble_request(e.header, e.slack_and_payload());
    if (request.empty()) {
        // A framing we do not understand: answer EIO rather than guess.
        spdlog::warn("transport: unexpected ring entry framing; answering EIO");
        std::uint64_t unique = 0;
        std::memcpy(&unique, e.header.in_out + 8, sizeof(unique));
        const std::uint32_t len = kOutHeaderSize;
        const std::int32_t error = -EIO;
        std::memcpy(e.header.in_out, &len, sizeof(len));
        std::memcpy(e.header.in_out + 4, &error, sizeof(error));
        std::memcpy(e.header.in_out + 8, &unique, sizeof(unique));
        e.header.ring_ent_in_out.payload_sz = 0;
        commit(q, e);
        return;
    }
    std::uint64_t unique = 0;
    std::memcpy(&unique, request.data() + 8, sizeof(unique));
    q.served.store(q.served.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    // With -d, libfuse prints every request: the uniques not listed here came on /dev/fuse
    // (scripts/uring-facts.sh).
    if (spdlog::should_log(spdlog::level::trace))
        spdlog::trace("transport: ring {} unique {}", q.qid, unique);
    table_->claim(e.slot, unique);
    tl_entry = &e;
    fuse_buf buf{};
    buf.size = request.size();
    buf.mem = request.data();
    fuse_session_process_buf(se_, &buf);
    tl_entry = nullptr;
}

void Rings::commit(Queue& q, Entry& e) {
    if (tl_queue == &q) {
        prep_cmd(sqe(q), abi::kCmdCommitAndFetch, e.header.ring_ent_in_out.commit_id, q.qid, e);
        ++q.idle;
        return;  // submitted with the next wait
    }
    {
        const std::lock_guard lock(q.mu);
        q.mailbox.push_back(&e);
    }
    (void)::eventfd_write(q.event.get(), 1);
}

void Rings::commit_from_mailbox(Queue& q) {
    {
        const std::lock_guard lock(q.mu);
        q.drained.swap(q.mailbox);
    }
    for (Entry* e : q.drained) commit(q, *e);
    q.drained.clear();
}

ssize_t Rings::write_reply(int fd, const iovec* iov, int count) {
    const std::span<const iovec> parts(iov, static_cast<std::size_t>(count));
    const std::uint64_t unique = reply_unique(parts);
    Entry* e = nullptr;
    if (tl_entry != nullptr && table_->take_slot(tl_entry->slot, unique)) {
        e = tl_entry;
    } else if (const auto slot = table_->take(unique)) {
        e = slots_[*slot].load(std::memory_order_acquire);
    }
    if (e == nullptr) return ::writev(fd, iov, count);
    std::size_t total = 0;
    for (const auto& v : parts) total += v.iov_len;
    const auto payload = scatter_reply(parts, e->header.in_out, {e->payload(), e->payload_size});
    if (payload) {
        e->header.ring_ent_in_out.payload_sz = static_cast<std::uint32_t>(*payload);
    } else {
        spdlog::warn("transport: a reply of {} bytes does not fit its ring entry; answering EIO", total);
        const std::uint32_t len = kOutHeaderSize;
        const std::int32_t error = -EIO;
        std::memcpy(e->header.in_out, &len, sizeof(len));
        std::memcpy(e->header.in_out + 4, &error, sizeof(error));
        std::memcpy(e->header.in_out + 8, &unique, sizeof(unique));
        e->header.ring_ent_in_out.payload_sz = 0;
    }
    commit(*e->queue, *e);
    return static_cast<ssize_t>(total);
}

Uring::Uring(fuse_session* se, bool wanted) : rings_(std::make_unique<Rings>(se, wanted)) {
    if (wanted) g_rings.store(rings_.get(), std::memory_order_release);
}

Uring::~Uring() {
    rings_->stop();
    Rings* self = rings_.get();
    (void)g_rings.compare_exchange_strong(self, nullptr);
}

bool wanted() noexcept {
    const Rings* r = g_rings.load(std::memory_order_acquire);
    return r != nullptr && r->wanted();
}

void start(std::size_t payload_size) {
    if (Rings* r = g_rings.load(std::memory_order_acquire)) r->start(payload_size);
}

void refuse(const char* why) {
    static std::atomic<bool> said{false};  // one line, not one per queue
    if (!said.exchange(true)) spdlog::warn("transport: {}; serving /dev/fuse", why);
}

ssize_t write_reply(int fd, const iovec* iov, int count) {
    Rings* r = g_rings.load(std::memory_order_acquire);
    if (r == nullptr || !r->active()) return ::writev(fd, iov, count);
    return r->write_reply(fd, iov, count);
}

ssize_t splice_reply(int pipe_fd, off_t* off_in, int fd, off_t* off_out, std::size_t len, unsigned flags) {
    Rings* r = g_rings.load(std::memory_order_acquire);
    if (r == nullptr || !r->active()) return ::splice(pipe_fd, off_in, fd, off_out, len, flags);
    thread_local std::vector<std::byte> reply;
    reply.resize(len);
    std::size_t have = 0;
    while (have < len) {
        const ssize_t n = ::read(pipe_fd, reply.data() + have, len - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        have += static_cast<std::size_t>(n);
    }
    iovec one{reply.data(), len};
    return r->write_reply(fd, &one, 1);
}

std::span<std::byte> reply_buffer() noexcept {
    if (tl_entry == nullptr) return {};
    return {tl_entry->payload(), tl_entry->payload_size};
}

}  // namespace splicefs::transport
