#pragma once
// The configurations `splice-bench --sweep` measures, in table order.
#include <vector>

#include "bench_run.hpp"

namespace splicefs::tools {

// Full: every destination x method x chunk 4K..4M (receiver splicing, 1 MiB pipes) plus the
// library's default per destination; the socket and pipe destinations again with a read()
// receiver (and the library row); and 64K/256K pipes at 64K and 1M chunks. Quick: the same
// shape on a few points.
std::vector<Case> sweep_cases(bool quick);

}  // namespace splicefs::tools
