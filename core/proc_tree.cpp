#include "core/proc_tree.h"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_map>

namespace byparr {

std::vector<pid_t> process_tree(pid_t root) {
    std::unordered_map<pid_t, std::vector<pid_t>> children;
    if (DIR* d = ::opendir("/proc")) {
        while (dirent* e = ::readdir(d)) {
            char* end = nullptr;
            long pid = std::strtol(e->d_name, &end, 10);
            if (pid <= 0 || *end != '\0') continue;
            std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
            std::string line;
            if (!std::getline(f, line)) continue;
            // comm may hold spaces and parentheses: the fields start after the last ')'.
            auto close = line.rfind(')');
            if (close == std::string::npos) continue;
            std::istringstream rest(line.substr(close + 1));
            std::string state;
            long ppid = 0;
            rest >> state >> ppid;
            children[static_cast<pid_t>(ppid)].push_back(static_cast<pid_t>(pid));
        }
        ::closedir(d);
    }
    std::vector<pid_t> out{root}, todo{root};
    while (!todo.empty()) {
        pid_t p = todo.back();
        todo.pop_back();
        auto it = children.find(p);
        if (it == children.end()) continue;
        for (pid_t c : it->second) {
            out.push_back(c);
            todo.push_back(c);
        }
    }
    return out;
}

uint64_t process_tree_pss_bytes(pid_t root) {
    uint64_t total_kb = 0;
    for (pid_t p : process_tree(root)) {
        std::ifstream f("/proc/" + std::to_string(p) + "/smaps_rollup");
        std::string line;
        while (std::getline(f, line)) {
            if (line.rfind("Pss:", 0) == 0) {
                total_kb += std::strtoull(line.c_str() + 4, nullptr, 10);
                break;
            }
        }
    }
    return total_kb * 1024;
}

}  // namespace byparr
