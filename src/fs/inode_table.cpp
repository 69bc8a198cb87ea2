#include "fs/inode_table.hpp"

namespace splicefs::fs {

InodeTable::InodeTable(sys::UniqueFd root_fd, const struct stat& root_stat) {
    auto root = std::make_shared<Inode>();
    root->fd = std::move(root_fd);
    root->dev = root_stat.st_dev;
    root->ino = root_stat.st_ino;
    root->type = root_stat.st_mode & S_IFMT;
    // The root is never forgotten: its count starts at one and forget() skips it.
    by_id_.emplace(kRootId, Entry{std::move(root), 1});
    by_key_.emplace(Key{root_stat.st_dev, root_stat.st_ino}, kRootId);
}

std::shared_ptr<Inode> InodeTable::find(std::uint64_t id) const {
    const std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second.inode;
}

std::uint64_t InodeTable::remember(sys::UniqueFd fd, const struct stat& st) {
    const Key key{st.st_dev, st.st_ino};
    {
        const std::lock_guard lock(mu_);
        if (const auto it = by_key_.find(key); it != by_key_.end()) {
            ++by_id_.at(it->second).nlookup;
            return it->second;  // fd (a parameter) closes after the lock is released
        }
    }
    auto fresh = std::make_shared<Inode>();  // declared before the lock: dropped after it
    fresh->fd = std::move(fd);
    fresh->dev = st.st_dev;
    fresh->ino = st.st_ino;
    fresh->type = st.st_mode & S_IFMT;

    const std::lock_guard lock(mu_);
    // Another thread may have inserted the same inode meanwhile: then count on that one.
    if (const auto it = by_key_.find(key); it != by_key_.end()) {
        ++by_id_.at(it->second).nlookup;
        return it->second;
    }
    const auto id = next_id_++;
    by_id_.emplace(id, Entry{std::move(fresh), 1});
    by_key_.emplace(key, id);
    return id;
}

void InodeTable::forget(std::uint64_t id, std::uint64_t n) {
    if (id == kRootId) return;
    std::shared_ptr<Inode> dropped;  // released after the lock, so close() runs unlocked
    const std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    auto& entry = it->second;
    entry.nlookup = n >= entry.nlookup ? 0 : entry.nlookup - n;
    if (entry.nlookup == 0) {
        by_key_.erase(Key{entry.inode->dev, entry.inode->ino});
        dropped = std::move(entry.inode);
        by_id_.erase(it);
    }
}

std::size_t InodeTable::size() const {
    const std::lock_guard lock(mu_);
    return by_id_.size();
}

}  // namespace splicefs::fs
