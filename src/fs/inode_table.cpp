#include "fs/inode_table.hpp"

#include "fs/backing_policy.hpp"
#include "fs/survival_mirror.hpp"

#include <fcntl.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace splicefs::fs {

namespace {
file_handle* as_file_handle(FileHandle& bytes) noexcept {
    return reinterpret_cast<file_handle*>(bytes.data());
}

// The inode a new table entry stands for.
// Every remember*() hands st on to the kernel (entry replies): the attributes it was told.
void note_told(Inode& inode, const struct stat& st) noexcept {
    if (S_ISREG(st.st_mode)) inode.told.store(content_stamp(st), std::memory_order_release);
}

std::shared_ptr<Inode> new_inode(const struct stat& st) {
    auto inode = std::make_shared<Inode>();
    inode->dev = st.st_dev;
    inode->ino = st.st_ino;
    inode->type = st.st_mode & S_IFMT;
    note_told(*inode, st);
    return inode;
}
}  // namespace

FileHandle handle_at(int dirfd, const char* name) {
    FileHandle bytes(sizeof(file_handle) + MAX_HANDLE_SZ);
    auto* handle = as_file_handle(bytes);
    handle->handle_bytes = MAX_HANDLE_SZ;
    int mount_id = 0;
    if (::name_to_handle_at(dirfd, name, handle, &mount_id, *name == '\0' ? AT_EMPTY_PATH : 0) != 0)
        return {};
    bytes.resize(sizeof(file_handle) + handle->handle_bytes);
    return bytes;
}

bool handle_names(const FileHandle& handle, ino_t ino) noexcept {
    // FILEID_INO32_GEN (1) and FILEID_INO32_GEN_PARENT (2) start with the 32-bit inode number.
    if (handle.size() < sizeof(file_handle) + sizeof(std::uint32_t)) return false;
    const auto* h = reinterpret_cast<const file_handle*>(handle.data());
    if (h->handle_type != 1 && h->handle_type != 2) return false;
    std::uint32_t handle_ino = 0;
    std::memcpy(&handle_ino, h->f_handle, sizeof handle_ino);
    return ino <= std::numeric_limits<std::uint32_t>::max() && handle_ino == static_cast<std::uint32_t>(ino);
}

namespace {
sys::UniqueFd open_mount_fd(const sys::UniqueFd& root_fd) {
    return sys::UniqueFd{::openat(root_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
}
}  // namespace

InodeTable::InodeTable(sys::UniqueFd root_fd, const struct stat& root_stat, std::size_t max_path_fds)
    : mount_fd_(open_mount_fd(root_fd)),
      // Probe once: the filesystem must export handles and we must be allowed to open them
      // (CAP_DAC_READ_SEARCH); otherwise every known inode keeps its fd, as before.
      handles_work_([&] {
          if (!mount_fd_) return false;
          auto handle = handle_at(root_fd.get(), "");
          return !handle.empty() && open_handle(as_file_handle(handle)).valid();
      }()),
      max_path_fds_(handles_work_ ? max_path_fds : kUnlimited) {
    // The root is never forgotten (its count starts at one and forget() skips it) and never
    // evicted (it has no handle in its entry).
    by_id_.emplace(kRootId, Entry{new_inode(root_stat),
                                  1,
                                  std::make_shared<const sys::UniqueFd>(std::move(root_fd)),
                                  {},
                                  false,
                                  true,
                                  {}});
    by_key_.emplace(Key{root_stat.st_dev, root_stat.st_ino}, kRootId);
    path_fds_ = 1;
}

InodeRef InodeTable::find(std::uint64_t id) {
    std::shared_ptr<Inode> inode;
    FileHandle handle;
    {
        const std::lock_guard lock(mu_);
        const auto it = by_id_.find(id);
        if (it == by_id_.end()) return InodeRef(ESTALE);
        auto& entry = it->second;
        if (entry.fd) {
            if (entry.evictable()) lru_.splice(lru_.begin(), lru_, entry.lru);
            return {entry.inode, entry.fd};
        }
        inode = entry.inode;
        handle = entry.handle;
    }
    // Evicted: reopen from the handle without the lock. ESTALE when the file is gone.
    sys::UniqueFd reopened = open_handle(as_file_handle(handle));
    if (!reopened) return InodeRef(errno);
    const auto fd = std::make_shared<const sys::UniqueFd>(std::move(reopened));  // before the lock:
    std::vector<PathFd> closed;                                                  // both close after it
    const std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    if (it == by_id_.end() || it->second.inode != inode) return {inode, fd};  // forgotten meanwhile
    auto& entry = it->second;
    if (entry.fd) return {inode, entry.fd};  // another request reopened it first
    entry.fd = fd;
    if (entry.was_open) ++reopens_;  // else the first open of a handle-only lookup
    opened_locked(id, entry, closed);
    return {inode, fd};
}

std::shared_ptr<Inode> InodeTable::find_inode(std::uint64_t id) const {
    const std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second.inode;
}

std::uint64_t InodeTable::remember(sys::UniqueFd fd, const struct stat& st) {
    const Key key{st.st_dev, st.st_ino};
    FileHandle handle;
    if (handles_work_) {
        // A known inode whose fd is open needs no handle: count it (our fd closes on return).
        if (const auto id = count_if_open(st)) return *id;
        handle = handle_at(fd.get(), "");  // empty when this file has none: it is then never evicted
    }
    // Declared before the lock, so that whatever is dropped is closed after it.
    auto fresh = new_inode(st);
    const auto path_fd = std::make_shared<const sys::UniqueFd>(std::move(fd));
    std::vector<PathFd> closed;

    const std::lock_guard lock(mu_);
    if (const auto it = by_key_.find(key); it != by_key_.end()) {
        const auto id = it->second;
        auto& entry = by_id_.at(id);
        if (entry.fd) {
            ++entry.nlookup;
            count_changed_locked(entry);
            note_told(*entry.inode, st);
            return id;
        }
        if (entry.handle == handle) {  // the same file, evicted: it gets our fd
            entry.fd = path_fd;
            ++entry.nlookup;
            count_changed_locked(entry);
            note_told(*entry.inode, st);
            opened_locked(id, entry, closed);
            return id;
        }
        // The inode number was reused after the old file's fd was evicted and the file
        // deleted. The old entry stays reachable by its id until forgotten (its handle now
        // answers ESTALE); the number belongs to the new file.
        by_key_.erase(it);
    }
    const auto id = next_id_locked();
    auto& entry = by_id_.emplace(id, Entry{std::move(fresh), 1, path_fd, std::move(handle), false, false, {}})
                      .first->second;
    by_key_.emplace(key, id);
    publish_locked(id, entry);
    opened_locked(id, entry, closed);
    return id;
}

std::uint64_t InodeTable::remember_handle(FileHandle handle, const struct stat& st) {
    const Key key{st.st_dev, st.st_ino};
    auto fresh = new_inode(st);  // made before the lock
    const std::lock_guard lock(mu_);
    if (const auto it = by_key_.find(key); it != by_key_.end()) {
        auto& entry = by_id_.at(it->second);
        // An open fd pins the inode, so its number still names it; else the handles tell.
        if (entry.fd || entry.handle == handle) {
            ++entry.nlookup;
            count_changed_locked(entry);
            note_told(*entry.inode, st);
            return it->second;
        }
        by_key_.erase(it);  // the number was reused, as in remember()
    }
    const auto id = next_id_locked();
    auto& entry = by_id_.emplace(id, Entry{std::move(fresh), 1, nullptr, std::move(handle), false, false, {}})
                      .first->second;
    by_key_.emplace(key, id);
    publish_locked(id, entry);
    return id;
}

bool InodeTable::knows_open(dev_t dev, ino_t ino) const {
    const std::lock_guard lock(mu_);
    const auto it = by_key_.find(Key{dev, ino});
    return it != by_key_.end() && by_id_.at(it->second).fd != nullptr;
}

bool InodeTable::knows(dev_t dev, ino_t ino) const {
    const std::lock_guard lock(mu_);
    return by_key_.contains(Key{dev, ino});
}

std::optional<std::uint64_t> InodeTable::count_if_open(const struct stat& st) {
    const std::lock_guard lock(mu_);
    const auto it = by_key_.find(Key{st.st_dev, st.st_ino});
    if (it == by_key_.end()) return std::nullopt;
    auto& entry = by_id_.at(it->second);
    if (!entry.fd) return std::nullopt;
    ++entry.nlookup;
    count_changed_locked(entry);
    note_told(*entry.inode, st);
    return it->second;
}

void InodeTable::opened_locked(std::uint64_t id, Entry& entry, std::vector<PathFd>& closed) {
    ++path_fds_;
    entry.was_open = true;
    if (mirror_ != nullptr) mirror_->own_fd(entry.fd->get(), survival::FdKind::Path, id);
    if (!entry.evictable()) return;
    lru_.push_front(id);
    entry.lru = lru_.begin();
    // Never the entry just opened: it is at the front and about to be used.
    while (path_fds_ > max_path_fds_ && lru_.back() != id) {
        auto& victim = by_id_.at(lru_.back());
        lru_.pop_back();
        if (mirror_ != nullptr) mirror_->drop_fd(victim.fd->get());  // before the close
        closed.push_back(std::move(victim.fd));
        --path_fds_;
    }
}

void InodeTable::unlink_locked(Entry& entry) {
    if (!entry.fd) return;
    if (mirror_ != nullptr) mirror_->drop_fd(entry.fd->get());  // before the caller closes it
    if (entry.evictable()) lru_.erase(entry.lru);
    --path_fds_;
}

InodeTable::Dropped InodeTable::forget(std::uint64_t id, std::uint64_t n) {
    if (id == kRootId) return {};
    const std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return {};
    auto& entry = it->second;
    entry.nlookup = n >= entry.nlookup ? 0 : entry.nlookup - n;
    count_changed_locked(entry);
    if (entry.nlookup != 0) return {};
    // The key may already belong to a newer file that reused the inode number.
    if (const auto k = by_key_.find(Key{entry.inode->dev, entry.inode->ino});
        k != by_key_.end() && k->second == id)
        by_key_.erase(k);
    unlink_locked(entry);
    if (mirror_ != nullptr) mirror_->free_node(entry.inode->survival_slot);
    Dropped dropped{std::move(entry.inode), std::move(entry.fd)};  // closed by the caller, unlocked
    by_id_.erase(it);
    return dropped;
}

bool InodeTable::pin(std::uint64_t id) {
    const std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return false;
    auto& entry = it->second;
    if (entry.pinned) return true;
    if (entry.fd && entry.evictable()) lru_.erase(entry.lru);
    entry.pinned = true;
    if (mirror_ != nullptr) mirror_->set_pinned(entry.inode->survival_slot);
    return true;
}

std::optional<std::uint64_t> InodeTable::id_of(dev_t dev, ino_t ino) const {
    const std::lock_guard lock(mu_);
    const auto it = by_key_.find(Key{dev, ino});
    if (it == by_key_.end()) return std::nullopt;
    return it->second;
}

sys::UniqueFd InodeTable::open_handle(const struct file_handle* handle) const {
    // ENOMEM here mostly means "gone": the handle names a deleted file whose inode number the
    // backing fs is handing to a file being created, and the kernel's inode lookup reports that
    // window as an allocation failure (iget_locked returns NULL, ext4 says ENOMEM). Once the new
    // inode is set up the same handle answers ESTALE (its generation differs), so ask again
    // briefly and answer ESTALE, the error the kernel retries an open on, rather than ENOMEM.
    constexpr int kTries = 3;
    for (int i = 0;; ++i) {
        // open_by_handle_at takes a non-const handle but does not change it.
        sys::UniqueFd fd{::open_by_handle_at(mount_fd_.get(), const_cast<struct file_handle*>(handle),
                                             O_PATH | O_CLOEXEC)};
        if (fd || errno != ENOMEM) return fd;
        if (i + 1 == kTries) {
            errno = ESTALE;
            return fd;
        }
        ::sched_yield();
    }
}

std::uint64_t InodeTable::next_id_locked() {
    const auto id = next_id_++;
    if (mirror_ != nullptr) mirror_->set_next_id(next_id_);  // before the id is handed out
    return id;
}

void InodeTable::publish_locked(std::uint64_t id, Entry& entry) {
    if (mirror_ == nullptr) return;
    auto& i = *entry.inode;
    i.survival_slot = mirror_->publish_node(id, i.dev, i.ino, i.type, entry.handle, entry.nlookup);
}

void InodeTable::count_changed_locked(const Entry& entry) noexcept {
    if (mirror_ != nullptr) mirror_->set_count(entry.inode->survival_slot, entry.nlookup);
}

std::shared_ptr<Inode> InodeTable::restore(Restored r) {
    auto inode = std::make_shared<Inode>();
    inode->dev = r.dev;
    inode->ino = r.ino;
    inode->type = r.type;
    inode->survival_slot = r.slot;
    PathFd fd = r.fd ? std::make_shared<const sys::UniqueFd>(std::move(r.fd)) : nullptr;
    std::vector<PathFd> closed;
    const std::lock_guard lock(mu_);
    auto& entry =
        by_id_.insert_or_assign(r.id, Entry{inode, r.nlookup, fd, std::move(r.handle), r.pinned, true, {}})
            .first->second;
    // Two entries of one inode number (the number reused): the newer id holds the key.
    auto& key_id = by_key_[Key{r.dev, r.ino}];
    key_id = std::max(key_id, r.id);
    if (entry.fd) opened_locked(r.id, entry, closed);
    return inode;
}

void InodeTable::restore_next_id(std::uint64_t next) {
    const std::lock_guard lock(mu_);
    next_id_ = std::max(next_id_, next);
}

void InodeTable::mirror_to(survival::Mirror* mirror) {
    const std::lock_guard lock(mu_);
    mirror_ = mirror;
}

InodeTable::Counts InodeTable::counts() const {
    const std::lock_guard lock(mu_);
    return {by_id_.size(), path_fds_, reopens_};
}

}  // namespace splicefs::fs
