// What a process tree costs, read from /proc: PSS, CPU ticks, open descriptors, and which
// processes carry a given environment entry. Shared by the soak and fault tests and the
// end-to-end benchmark. Header-only so any target that includes tests/support can use it.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <cstddef>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_process.h"

namespace byparr::test {

// /proc/<pid>/comm (truncated to 15 characters by the kernel), "" when gone.
inline std::string comm_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
    std::string s;
    std::getline(f, s);
    return s;
}

// root and all its live descendants.
inline std::vector<pid_t> process_tree(pid_t root) {
    std::vector<pid_t> pids = descendants(root);
    pids.insert(pids.begin(), root);
    return pids;
}

// Proportional set size of a process and all its descendants, in MiB: shared pages are
// split between the processes that map them, so the sum is what the tree really costs.
inline double tree_pss_mib(pid_t root) {
    double kib = 0;
    for (pid_t p : process_tree(root)) {
        std::ifstream in("/proc/" + std::to_string(p) + "/smaps_rollup");
        std::string key, unit;
        double v = 0;
        while (in >> key) {
            if (key == "Pss:") {
                in >> v >> unit;
                kib += v;
                break;
            }
            std::getline(in, unit);
        }
    }
    return kib / 1024.0;
}

// CPU time (user + system, in clock ticks) used so far by each process of a tree.
inline std::map<pid_t, long> tree_cpu_ticks(pid_t root) {
    std::map<pid_t, long> out;
    for (pid_t p : process_tree(root)) {
        std::ifstream in("/proc/" + std::to_string(p) + "/stat");
        std::string stat;
        std::getline(in, stat);
        auto rp = stat.rfind(')');
        if (rp == std::string::npos || rp + 2 > stat.size()) continue;
        std::istringstream rest(stat.substr(rp + 2));
        std::string field;
        long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::stol(field);
            if (i == 15) stime = std::stol(field);
        }
        out[p] = utime + stime;
    }
    return out;
}

// Descendants that are browser processes: the workers of both engines, Chromium's processes
// (QtWebEngineProcess, chromium) and their X servers.
inline std::size_t browser_processes(pid_t root) {
    std::size_t n = 0;
    for (pid_t p : descendants(root)) {
        std::string comm = comm_of(p);
        if (comm.find("QtWebEngine") != std::string::npos || comm.rfind("byparr-", 0) == 0 ||
            comm.rfind("chromium", 0) == 0 || comm == "Xvfb")
            ++n;
    }
    return n;
}

// Descendants that are byparr-webengine-worker processes.
inline std::vector<pid_t> worker_processes(pid_t root) {
    std::vector<pid_t> out;
    for (pid_t p : descendants(root))
        if (comm_of(p).rfind("byparr-webengin", 0) == 0) out.push_back(p);
    return out;
}

// Open file descriptors of a process (0 when it is gone).
inline std::size_t open_fds(pid_t pid) {
    std::size_t n = 0;
    if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') ++n;
        closedir(d);
    }
    return n;
}

// Live processes whose environment holds exactly `entry` ("KEY=value"). Processes that left
// the tree (reparented to init, or in a new session) still carry the environment they were
// started with, so a unique token finds every leftover. Unreadable processes (other users)
// are skipped; so are zombies, which are already gone.
// The whole of a /proc file, or "" if the process went away meanwhile: libstdc++'s filebuf
// throws from underflow() on a read error (ESRCH for an exiting process), and an
// istreambuf_iterator does not catch it.
inline std::string read_proc_file(const std::string& path) {
    try {
        std::ifstream in(path, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), {});
    } catch (const std::exception&) {
        return {};
    }
}

inline std::vector<pid_t> processes_with_env(const std::string& entry) {
    std::vector<pid_t> out;
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return out;
    while (dirent* e = readdir(proc)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0') continue;
        std::string base = "/proc/" + std::string(e->d_name);
        const std::string all = read_proc_file(base + "/environ");
        bool found = false;
        for (std::size_t pos = 0; pos < all.size() && !found;) {
            std::size_t z = all.find('\0', pos);
            if (z == std::string::npos) z = all.size();
            found = all.compare(pos, z - pos, entry) == 0;
            pos = z + 1;
        }
        if (!found) continue;
        const std::string text = read_proc_file(base + "/stat");
        auto rp = text.rfind(')');
        if (rp != std::string::npos && rp + 2 < text.size() && text[rp + 2] == 'Z') continue;
        out.push_back(static_cast<pid_t>(pid));
    }
    closedir(proc);
    return out;
}

}  // namespace byparr::test
