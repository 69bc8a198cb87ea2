#include "guarded_main.hpp"

#include <cstdio>
#include <exception>

namespace splicefs::tools {

int guarded_main(const char* tool, ToolRun run, int argc, char** argv) noexcept {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        (void)std::fprintf(stderr, "%s: %s\n", tool, e.what());  // stderr is the last resort
    } catch (...) {
        (void)std::fprintf(stderr, "%s: unexpected error\n", tool);
    }
    return 1;
}

}  // namespace splicefs::tools
