#include "tests/integration/worker_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <Poco/JSON/Parser.h>

extern char** environ;

namespace byparr::test {

namespace {

std::vector<pid_t> tree_of(pid_t root) {
    // Children lists from /proc/<pid>/task/*/children, breadth first.
    std::vector<pid_t> out{root};
    for (size_t i = 0; i < out.size(); ++i) {
        std::ifstream f("/proc/" + std::to_string(out[i]) + "/task/" + std::to_string(out[i]) +
                        "/children");
        pid_t child;
        while (f >> child)
            out.push_back(child);
    }
    return out;
}

}  // namespace

WorkerClient::WorkerClient(const std::string& executable, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        throw std::runtime_error("socketpair failed");
    }
    constexpr int kChildFd = 3;
    std::vector<std::string> argv_s{executable, "--fd", std::to_string(kChildFd)};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::map<std::string, std::string> env_map;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : env)
        env_map[k] = v;
    std::vector<std::string> env_s;
    for (const auto& [k, v] : env_map)
        env_s.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (auto& s : argv_s)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_s)
        envp.push_back(s.data());
    envp.push_back(nullptr);

    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(sv[1], kChildFd);  // dup2 clears close-on-exec
        ::execve(executable.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // no race with the child's own call
    ::close(sv[1]);
    fd_ = sv[0];
}

WorkerClient::~WorkerClient() {
    close_socket();
    if (!wait_exit(std::chrono::seconds(3))) {
        ::kill(-pid_, SIGKILL);
        wait_exit(std::chrono::seconds(5));
    }
    ::kill(-pid_, SIGKILL);  // stragglers in the group, if any
}

void WorkerClient::close_socket() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

std::optional<int> WorkerClient::wait_exit(std::chrono::milliseconds timeout) {
    if (reaped_) return status_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int st = 0;
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_ || (r < 0 && errno == ECHILD)) {
            reaped_ = true;
            status_ = st;
            return st;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

bool WorkerClient::send_bytes(const std::string& bytes) {
    size_t off = 0;
    while (fd_ >= 0 && off < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return off == bytes.size();
}

std::uint64_t WorkerClient::send(const std::string& op, Json fields) {
    Poco::JSON::Object msg;
    if (fields) {
        for (const auto& [k, v] : *fields)
            msg.set(k, v);
    }
    const std::uint64_t id = next_id_++;
    msg.set("op", op);
    msg.set("id", id);
    std::ostringstream out;
    msg.stringify(out);
    const std::string body = out.str();
    const auto n = static_cast<std::uint32_t>(body.size());
    std::string frame{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                      static_cast<char>(n >> 8), static_cast<char>(n)};
    send_bytes(frame + body);
    return id;
}

bool WorkerClient::read_frames(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count())));
    if (pr <= 0) return pr == 0;
    char buf[65536];
    ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    while (buffer_.size() >= 4) {
        auto* b = reinterpret_cast<const unsigned char*>(buffer_.data());
        std::uint32_t len = (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) |
                            (std::uint32_t(b[2]) << 8) | b[3];
        if (buffer_.size() < 4 + static_cast<size_t>(len)) break;
        Json obj = parse_object(buffer_.substr(4, len));
        buffer_.erase(0, 4 + static_cast<size_t>(len));
        if (!obj) continue;
        if (obj->has("id") && !obj->get("id").isEmpty()) {
            replies_[obj->getValue<std::uint64_t>("id")] = obj;
        } else {
            unsolicited_.push_back(obj);
        }
    }
    return true;
}

WorkerClient::Json WorkerClient::wait_ready(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        for (auto it = unsolicited_.begin(); it != unsolicited_.end(); ++it) {
            if ((*it)->optValue<std::string>("op", "") == "ready") {
                Json r = *it;
                unsolicited_.erase(it);
                return r;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline || !read_frames(deadline)) {
            return nullptr;
        }
    }
}

WorkerClient::Json WorkerClient::wait_reply(std::uint64_t id, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (auto it = replies_.find(id); it != replies_.end()) {
            Json r = it->second;
            replies_.erase(it);
            return r;
        }
        if (std::chrono::steady_clock::now() >= deadline || !read_frames(deadline)) {
            return nullptr;
        }
    }
}

WorkerClient::Json WorkerClient::call(const std::string& op, Json fields,
                                      std::chrono::milliseconds timeout) {
    return wait_reply(send(op, fields), timeout);
}

WorkerClient::Json WorkerClient::solve(Json request, std::chrono::milliseconds timeout) {
    return call("solve", json_object({{"request", request}}), timeout);
}

long WorkerClient::pss_kib() const {
    long total = 0;
    for (pid_t p : tree_of(pid_)) {
        std::ifstream f("/proc/" + std::to_string(p) + "/smaps_rollup");
        std::string key;
        long value;
        std::string unit;
        std::string line;
        while (std::getline(f, line)) {
            std::istringstream in(line);
            if (in >> key >> value >> unit && key == "Pss:") total += value;
        }
    }
    return total;
}

Poco::JSON::Object::Ptr json_object(
    std::initializer_list<std::pair<const std::string, Poco::Dynamic::Var>> fields) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    for (const auto& [k, v] : fields)
        o->set(k, v);
    return o;
}

std::string pre_text(const std::string& html, const std::string& id) {
    const std::string open = "<pre id=\"" + id + "\">";
    auto start = html.find(open);
    if (start == std::string::npos) return {};
    start += open.size();
    auto end = html.find("</pre>", start);
    std::string raw =
        html.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '&') {
            out += raw[i];
            continue;
        }
        static const std::pair<const char*, char> kEntities[] = {
            {"&amp;", '&'},  {"&lt;", '<'},    {"&gt;", '>'},  {"&quot;", '"'},
            {"&#39;", '\''}, {"&#x27;", '\''}, {"&nbsp;", ' '}};
        bool done = false;
        for (const auto& [ent, ch] : kEntities) {
            if (raw.compare(i, std::strlen(ent), ent) == 0) {
                out += ch;
                i += std::strlen(ent) - 1;
                done = true;
                break;
            }
        }
        if (!done) out += '&';
    }
    return out;
}

Poco::JSON::Object::Ptr parse_object(const std::string& text) {
    try {
        Poco::JSON::Parser parser;
        return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    } catch (...) {
        return nullptr;
    }
}

}  // namespace byparr::test
