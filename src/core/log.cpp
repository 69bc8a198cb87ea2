#include "core/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "core/exit_codes.hpp"

namespace splicefs::log {

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) noexcept {
    using spdlog::level::level_enum;
    static constexpr level_enum kLevels[] = {level_enum::trace, level_enum::debug, level_enum::info,
                                             level_enum::warn,  level_enum::err,   level_enum::critical,
                                             level_enum::off};
    for (std::size_t i = 0; i < std::size(kLevelNames); ++i) {
        if (name == kLevelNames[i]) return kLevels[i];
    }
    return std::nullopt;
}

spdlog::level::level_enum effective_level(const Config& config) noexcept {
    auto level = parse_level(config.log_level).value_or(spdlog::level::info);
    if (config.debug && level > spdlog::level::debug) level = spdlog::level::debug;
    return level;
}

void init(const Config& config) {
    const auto level = effective_level(config);
    std::vector<spdlog::sink_ptr> sinks;

    auto err_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    const bool foreground = config.foreground || config.debug;
    err_sink->set_level(foreground ? level : std::max(level, spdlog::level::warn));
    sinks.push_back(std::move(err_sink));

    if (config.log_file) {
        // spdlog would create missing directories: a typo must be an error instead.
        const auto dir = config.log_file->parent_path();
        std::error_code ec;
        if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
            throw ExitError(ExitCode::BadArguments, "cannot open log file " + config.log_file->string() +
                                                        ": no directory " + dir.string());
        }
        try {
            sinks.push_back(
                std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.log_file->string(), false));
        } catch (const spdlog::spdlog_ex& e) {
            throw ExitError(ExitCode::BadArguments, "cannot open log file: " + std::string(e.what()));
        }
    }
    if (config.syslog) {
        // Syslog adds its own time stamp and identity; our pattern keeps mount and level.
        auto sys = std::make_shared<spdlog::sinks::syslog_sink_mt>("splicefs", LOG_PID, LOG_DAEMON, true);
        sys->set_pattern("[%n] %l: %v");
        sinks.push_back(std::move(sys));
    }

    const std::string name = config.mountpoint.empty() ? "splicefs" : config.mountpoint.string();
    auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
    logger->set_level(level);
    for (std::size_t i = 0; i < sinks.size(); ++i) {
        if (!config.syslog || i + 1 != sinks.size()) sinks[i]->set_pattern("%Y-%m-%d %T.%e [%n] %l: %v");
    }
    // Warnings reach the file at once: a crash must not eat the reason.
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
}

void flush() noexcept {
    try {
        spdlog::default_logger_raw()->flush();
    } catch (...) {
        // Nothing sensible to do when the log itself fails.
    }
}

}  // namespace splicefs::log
