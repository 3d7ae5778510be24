#include "core/plugin_state.h"

#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_writer.h"

namespace fs = std::filesystem;

namespace byparr {

int http_status(AdminError::Kind kind) {
    switch (kind) {
        case AdminError::Kind::kNotFound:
            return 404;
        case AdminError::Kind::kInvalid:
            return 400;
        case AdminError::Kind::kIo:
            break;
    }
    return 500;
}

const std::vector<std::string>& default_solvers() {
    static const std::vector<std::string> d{"webengine", "cookie-import"};
    return d;
}

std::string plugin_state_file(const std::string& state_dir) {
    return state_dir + "/plugins.json";
}

namespace {

std::vector<std::string> strings_of(const Poco::JSON::Array::Ptr& arr) {
    std::vector<std::string> out;
    for (size_t i = 0; arr && i < arr->size(); ++i)
        out.push_back(arr->getElement<std::string>(static_cast<unsigned>(i)));
    return out;
}

}  // namespace

PluginState PluginState::load(const std::string& path, std::string* error) {
    PluginState s;
    std::ifstream in(path);
    if (!in) return s;
    std::stringstream buf;
    buf << in.rdbuf();
    try {
        Poco::JSON::Parser p;
        auto obj = p.parse(buf.str()).extract<Poco::JSON::Object::Ptr>();
        for (const char* key : {"enabled", "disabled"})
            for (auto& id : strings_of(obj->getArray(key)))
                s.explicit_state[id] = std::string(key) == "enabled";
        s.order = strings_of(obj->getArray("order"));
    } catch (const std::exception& e) {
        if (error) *error = e.what();
        return PluginState{};
    }
    return s;
}

std::string PluginState::to_json() const {
    JsonWriter w;
    w.begin_object();
    for (bool want : {true, false}) {
        w.key(want ? "enabled" : "disabled").begin_array();
        for (const auto& [id, on] : explicit_state)
            if (on == want) w.value(id);
        w.end_array();
    }
    w.key("order").begin_array();
    for (const auto& id : order)
        w.value(id);
    w.end_array().end_object();
    return w.take() + "\n";
}

std::optional<std::string> PluginState::save(const std::string& path) const {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    return write_file_atomic(path, to_json());
}

bool PluginState::is_enabled(const std::string& id, bool is_solver,
                             const std::vector<std::string>& configured) const {
    auto it = explicit_state.find(id);
    if (it != explicit_state.end()) return it->second;
    if (!is_solver) return true;
    return std::find(configured.begin(), configured.end(), id) != configured.end();
}

std::vector<std::string> PluginState::chain_order(const std::vector<std::string>& configured,
                                                  const std::vector<std::string>& defaults,
                                                  const std::vector<std::string>& solvers) const {
    std::vector<std::string> out = !configured.empty() ? configured
                                   : !order.empty()    ? order
                                                       : defaults;
    for (const auto& id : solvers)
        if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    return out;
}

std::optional<std::string> write_file_atomic(const std::string& path, const std::string& content) {
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
    size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::string e = std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            return "cannot write " + tmp + ": " + e;
        }
        off += static_cast<size_t>(n);
    }
    // fsync before rename: otherwise a crash can leave the new name pointing at
    // an empty file on some file systems.
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        std::string e = std::strerror(errno);
        ::unlink(tmp.c_str());
        return "cannot flush " + tmp + ": " + e;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        std::string e = std::strerror(errno);
        ::unlink(tmp.c_str());
        return "cannot replace " + path + ": " + e;
    }
    int dfd = ::open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return std::nullopt;
}

}  // namespace byparr
