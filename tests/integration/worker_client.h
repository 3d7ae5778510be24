// Test client for byparr-webengine-worker: spawns it over a socketpair exactly as
// the supervisor does (own process group, --fd) and speaks the framed JSON protocol
// of plugins/browser/PROTOCOL.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "tests/support/http_client.h"  // base64_decode

namespace byparr::test {

class WorkerClient {
  public:
    using Json = Poco::JSON::Object::Ptr;

    // Starts the worker; throws std::runtime_error when it cannot be spawned.
    WorkerClient(const std::string& executable, const std::vector<std::string>& args = {},
                 const std::map<std::string, std::string>& env = {});
    // Closes the socket, waits up to 3 s for the exit, then SIGKILLs the group.
    ~WorkerClient();

    WorkerClient(const WorkerClient&) = delete;
    WorkerClient& operator=(const WorkerClient&) = delete;

    // The `ready` message, or nullptr on timeout / early exit.
    Json wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // Sends {"op":op,"id":<new id>, ...fields} and returns the id.
    std::uint64_t send(const std::string& op, Json fields = nullptr);
    // Sends raw bytes (framing tests).
    bool send_bytes(const std::string& bytes);
    // The reply for id, or nullptr on timeout / EOF.
    Json wait_reply(std::uint64_t id, std::chrono::milliseconds timeout);
    Json call(const std::string& op, Json fields,
              std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // {"op":"solve","request":request}.
    Json solve(Json request, std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // Our end of the socket: the worker's "exit now".
    void close_socket();
    // Waits for the worker to exit; the wait status, or nullopt on timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    pid_t pid() const { return pid_; }
    // Proportional set size summed over the worker and its descendants, KiB.
    long pss_kib() const;

  private:
    bool read_frames(std::chrono::steady_clock::time_point deadline);

    pid_t pid_ = -1;
    int fd_ = -1;
    bool reaped_ = false;
    int status_ = 0;
    std::uint64_t next_id_ = 1;
    std::string buffer_;
    std::vector<Json> unsolicited_;          // messages without an id (ready)
    std::map<std::uint64_t, Json> replies_;  // by id
};

// Builds a Poco JSON object from key/value pairs (test readability).
Poco::JSON::Object::Ptr json_object(
    std::initializer_list<std::pair<const std::string, Poco::Dynamic::Var>> fields);

// The text inside <pre id="..."> of an HTML document, entity-decoded.
std::string pre_text(const std::string& html, const std::string& id);

// Parses JSON text into an object; nullptr when it is not one.
Poco::JSON::Object::Ptr parse_object(const std::string& text);

}  // namespace byparr::test
