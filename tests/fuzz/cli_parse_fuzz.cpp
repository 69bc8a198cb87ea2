// libFuzzer target for the option parser: the input is split at NUL bytes into argv words
// (argv[0] = "splicefs"); parse_command_line and check_conflicts may throw UsageError (or
// any std::exception) but must never crash, hang, leak or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "cli/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> words{"splicefs"};
    std::string cur;
    for (std::size_t i = 0; i < size && words.size() < 64; ++i) {
        if (data[i] == 0) {
            words.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(static_cast<char>(data[i]));
        }
    }
    if (!cur.empty()) words.push_back(cur);
    std::vector<const char*> argv;
    argv.reserve(words.size());
    for (const auto& w : words) argv.push_back(w.c_str());
    try {
        const auto result = splicefs::cli::parse_command_line(argv);
        if (result.action == splicefs::cli::Action::Run) splicefs::cli::check_conflicts(result.config);
    } catch (const std::exception&) {
        // Rejections are the expected outcome for most inputs.
    }
    return 0;
}
