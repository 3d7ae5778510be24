#include "core/clearance_store.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include "core/json_writer.h"
#include "core/log.h"

namespace byparr::clearance_json {

namespace {

constexpr const char* kComponent = "cache";

void write_cookies(JsonWriter& w, const std::vector<Cookie>& cookies) {
    w.begin_array();
    for (const Cookie& c : cookies) {
        w.begin_object()
            .field("name", c.name)
            .field("value", c.value)
            .field("domain", c.domain)
            .field("path", c.path)
            .field("sameSite", c.same_site)
            .field("expires", c.expires_s)
            .field("httpOnly", c.http_only)
            .field("secure", c.secure)
            .end_object();
    }
    w.end_array();
}

std::vector<Cookie> read_cookies(const Poco::JSON::Array::Ptr& a) {
    std::vector<Cookie> out;
    if (!a) return out;
    for (size_t i = 0; i < a->size(); ++i) {
        auto o = a->getObject(static_cast<unsigned>(i));
        if (!o) continue;
        Cookie c;
        c.name = o->optValue<std::string>("name", "");
        c.value = o->optValue<std::string>("value", "");
        c.domain = o->optValue<std::string>("domain", "");
        c.path = o->optValue<std::string>("path", "");
        c.same_site = o->optValue<std::string>("sameSite", "");
        c.expires_s = o->optValue<Poco::Int64>("expires", -1);
        c.http_only = o->optValue<bool>("httpOnly", false);
        c.secure = o->optValue<bool>("secure", false);
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace

std::string cookies(const std::vector<Cookie>& list) {
    JsonWriter w;
    write_cookies(w, list);
    return w.take();
}

std::vector<Cookie> parse_cookies(const std::string& json) {
    Poco::JSON::Parser parser;
    return read_cookies(parser.parse(json).extract<Poco::JSON::Array::Ptr>());
}

std::string record(const ClearanceRecord& r) {
    JsonWriter w;
    w.begin_object()
        .field("site", r.key.site)
        .field("proxy", r.key.proxy)
        .field("userAgent", r.key.user_agent)
        .field("created", r.entry.created_s)
        .field("expires", r.entry.expires_s)
        .key("cookies");
    write_cookies(w, r.entry.cookies);
    w.end_object();
    return w.take();
}

std::optional<ClearanceRecord> parse_record(const std::string& json) {
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
        ClearanceRecord r;
        r.key.site = o->getValue<std::string>("site");
        r.key.proxy = o->getValue<std::string>("proxy");
        r.key.user_agent = o->getValue<std::string>("userAgent");
        r.entry.user_agent = r.key.user_agent;
        r.entry.created_s = o->getValue<Poco::Int64>("created");
        r.entry.expires_s = o->getValue<Poco::Int64>("expires");
        r.entry.cookies = read_cookies(o->getArray("cookies"));
        return r;
    } catch (const Poco::Exception& e) {
        log::warning(kComponent, "ignoring a malformed cache record: {}", e.displayText());
    } catch (const std::exception& e) {
        log::warning(kComponent, "ignoring a malformed cache record: {}", e.what());
    }
    return std::nullopt;
}

std::string site_solver(const SiteSolver& m) {
    JsonWriter w;
    w.begin_object()
        .field("site", m.site)
        .field("solver", m.solver)
        .field("created", m.created_s)
        .field("expires", m.expires_s)
        .end_object();
    return w.take();
}

std::optional<SiteSolver> parse_site_solver(const std::string& json) {
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
        SiteSolver m;
        m.site = o->getValue<std::string>("site");
        m.solver = o->getValue<std::string>("solver");
        m.created_s = o->getValue<Poco::Int64>("created");
        m.expires_s = o->getValue<Poco::Int64>("expires");
        return m;
    } catch (const Poco::Exception& e) {
        log::warning(kComponent, "ignoring a malformed site solver record: {}", e.displayText());
    } catch (const std::exception& e) {
        log::warning(kComponent, "ignoring a malformed site solver record: {}", e.what());
    }
    return std::nullopt;
}

}  // namespace byparr::clearance_json
