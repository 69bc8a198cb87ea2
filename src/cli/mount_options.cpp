#include "cli/mount_options.hpp"

#include <array>
#include <stdexcept>

#include "cli/options.hpp"

namespace splicefs::cli {

std::vector<std::string> split_option_list(std::string_view list) {
    if (list.empty()) throw UsageError("-o needs a non-empty option list");
    std::vector<std::string> words;
    std::string word;
    auto finish = [&] {
        if (word.empty()) throw UsageError("-o " + std::string(list) + ": empty option between commas");
        words.push_back(std::move(word));
        word.clear();
    };
    for (std::size_t i = 0; i < list.size(); ++i) {
        const char ch = list[i];
        if (ch == '\\' && i + 1 < list.size()) {
            word += list[++i];
        } else if (ch == ',') {
            finish();
        } else {
            word += ch;
        }
    }
    finish();
    return words;
}

bool is_fstab_only_word(std::string_view word) noexcept {
    static constexpr std::array<std::string_view, 10> kWords{
        "defaults", "nofail", "_netdev", "auto", "noauto", "user", "users", "nouser", "owner", "group"};
    const auto key = word.substr(0, word.find('='));
    if (key == "comment" || key.starts_with("x-")) return true;
    // mount(8) may hand a helper "user=NAME" for user mounts.
    if (key == "user" && key.size() < word.size()) return true;
    if (key.size() != word.size()) return false;
    for (auto w : kWords) {
        if (w == word) return true;
    }
    return false;
}

bool apply_mount_flag_word(Config& config, std::string_view key) {
    struct FlagWord {
        std::string_view word;
        bool Config::*field;
        bool value;
    };
    static constexpr std::array<FlagWord, 9> kFlags{{{"dev", &Config::dev, true},
                                                     {"nodev", &Config::dev, false},
                                                     {"suid", &Config::suid, true},
                                                     {"nosuid", &Config::suid, false},
                                                     {"exec", &Config::exec, true},
                                                     {"noexec", &Config::exec, false},
                                                     {"nodiratime", &Config::nodiratime, true},
                                                     {"diratime", &Config::nodiratime, false},
                                                     {"remount", &Config::remount, true}}};
    for (const auto& f : kFlags) {
        if (f.word == key) {
            config.*f.field = f.value;
            return true;
        }
    }
    // The atime words, as mount(8) reads them: the last one wins.
    if (key == "noatime") {
        config.atime = AtimeMode::Noatime;
    } else if (key == "strictatime") {
        config.atime = AtimeMode::Strictatime;
    } else if (key == "relatime" || key == "atime" || key == "norelatime" || key == "nostrictatime") {
        config.atime = AtimeMode::Relatime;
    } else {
        return false;
    }
    return true;
}

void apply_option_word(Config& config, std::string_view word) {
    const auto eq = word.find('=');
    const auto key = word.substr(0, eq);
    const bool has_value = eq != std::string_view::npos;
    const auto value = has_value ? word.substr(eq + 1) : std::string_view{};
    if (key.empty()) throw UsageError("-o " + std::string(word) + ": option without a name");

    if (is_fstab_only_word(word)) return;

    // Mount-style words we interpret ourselves.
    auto no_value = [&] {
        if (has_value) throw UsageError("-o " + std::string(key) + " takes no value");
    };
    if (key == "ro" || key == "rw") {
        no_value();
        config.read_only = key == "ro";
        return;
    }
    if (apply_mount_flag_word(config, key)) {
        no_value();
        return;
    }
    if (key == "allow_other") {
        no_value();
        config.allow_other = true;
        return;
    }
    if (key == "default_permissions") {
        no_value();
        config.default_permissions = true;
        return;
    }

    if (const OptionSpec* spec = find_option(key); spec != nullptr && spec->o_word && spec->apply) {
        if (spec->kind == ValueKind::Flag) {
            no_value();
        } else if (!has_value || value.empty()) {
            throw UsageError("-o " + std::string(key) + " needs a value (" + std::string(key) + "=" +
                             std::string(spec->value_name) + ")");
        }
        try {
            spec->apply(config, value);
        } catch (const std::invalid_argument& e) {
            throw UsageError("-o " + std::string(word) + ": " + e.what());
        }
        return;
    }
    config.fuse_options.emplace_back(word);
}

void apply_option_list(Config& config, std::string_view list) {
    for (const auto& word : split_option_list(list)) apply_option_word(config, word);
}

}  // namespace splicefs::cli
