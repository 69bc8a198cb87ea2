#include "scenario.hpp"

namespace posixtest {

std::vector<Scenario>& scenarios() {
    static std::vector<Scenario> all;
    return all;
}

}  // namespace posixtest
