// What the whole process tree costs: the host plus every descendant (browser
// workers, Chromium's zygote, renderers, GPU process), read from /proc. PSS
// splits shared pages between the processes that map them, so the sum is what
// the tree really holds, not the inflated RSS sum.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace byparr {

/// `root` and its live descendants (by parent PID), root first.
std::vector<pid_t> process_tree(pid_t root);

/// Sum of Pss from /proc/<pid>/smaps_rollup over process_tree(root), in bytes;
/// processes that vanish while being read count as 0.
uint64_t process_tree_pss_bytes(pid_t root);

}  // namespace byparr
