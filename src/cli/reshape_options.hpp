#pragma once
// The reshaping options (bindfs's ownership, permission and policy options, in its spellings):
// their registry entries, and the checks that need the whole configuration.
#include <span>

#include "cli/options.hpp"
#include "core/config.hpp"

namespace splicefs::cli {

[[nodiscard]] std::span<const OptionSpec> reshape_options() noexcept;

// Throws UsageError for combinations that cannot work (reshaping without the kernel's permission
// checks, maps with offsets, options that need root without it); turns attribute caching off
// when what is shown depends on the caller (--mirror).
void finish_reshape(Config& config);

}  // namespace splicefs::cli
