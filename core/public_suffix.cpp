#include "core/public_suffix.h"

#include <arpa/inet.h>
#include <libpsl.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "core/log.h"
#include "core/strings.h"

namespace byparr {

PublicSuffixList::PublicSuffixList(PublicSuffixList&& o) noexcept
    : ctx_(std::exchange(o.ctx_, nullptr)), owned_(o.owned_) {}

PublicSuffixList& PublicSuffixList::operator=(PublicSuffixList&& o) noexcept {
    if (this != &o) {
        if (owned_) psl_free(ctx_);
        ctx_ = std::exchange(o.ctx_, nullptr);
        owned_ = o.owned_;
    }
    return *this;
}

PublicSuffixList::~PublicSuffixList() {
    if (owned_) psl_free(ctx_);
}

PublicSuffixList PublicSuffixList::parse(std::string_view text) {
    // libpsl reads lists from a FILE*; a memory stream spares a temporary file.
    std::string copy(text);
    FILE* f = copy.empty() ? nullptr : fmemopen(copy.data(), copy.size(), "r");
    psl_ctx_t* ctx = f ? psl_load_fp(f) : nullptr;
    if (f) std::fclose(f);
    return PublicSuffixList(ctx, true);
}

std::unique_ptr<PublicSuffixList> PublicSuffixList::load(const std::string& path) {
    psl_ctx_t* ctx = psl_load_file(path.c_str());
    if (ctx == nullptr) return nullptr;
    return std::unique_ptr<PublicSuffixList>(new PublicSuffixList(ctx, true));
}

const PublicSuffixList& PublicSuffixList::instance() {
    // A function-local static: initialised once, thread-safe, never destroyed
    // before its users (it is only read after construction).
    static const PublicSuffixList list = [] {
        if (psl_ctx_t* latest = psl_latest(nullptr)) return PublicSuffixList(latest, true);
        log::warning("psl", "cannot read {}: using libpsl's built-in public suffix list",
                     kDefaultPath);
        return PublicSuffixList(const_cast<psl_ctx_t*>(psl_builtin()), false);
    }();
    return list;
}

int PublicSuffixList::rule_count() const {
    return ctx_ ? psl_suffix_count(ctx_) : 0;
}

std::string PublicSuffixList::public_suffix(std::string_view raw_host) const {
    std::string host = normalize_host(raw_host);
    const char* ps = ctx_ ? psl_unregistrable_domain(ctx_, host.c_str()) : nullptr;
    if (ps != nullptr) return ps;
    // No list: the implicit "*" rule alone.
    size_t dot = host.rfind('.');
    return dot == std::string::npos ? host : host.substr(dot + 1);
}

std::string PublicSuffixList::registrable_domain(std::string_view raw_host) const {
    std::string host = normalize_host(raw_host);
    if (host.empty() || host.find('.') == std::string::npos || is_ip_literal(host)) return host;
    if (ctx_ == nullptr) {
        // No list: the implicit "*" rule, one label left of the last.
        size_t last = host.rfind('.');
        size_t dot = host.rfind('.', last - 1);
        return last == 0 || dot == std::string::npos ? host : host.substr(dot + 1);
    }
    // libpsl: NULL when the host is itself a public suffix, which still names one site.
    const char* rd = psl_registrable_domain(ctx_, host.c_str());
    return rd != nullptr ? std::string(rd) : host;
}

std::string registrable_domain(std::string_view host) {
    return PublicSuffixList::instance().registrable_domain(host);
}

std::string normalize_host(std::string_view host) {
    if (!host.empty() && host.front() == '[') {
        size_t close = host.find(']');
        host = host.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        host = host.substr(0, host.find(':'));  // "example.com:8080"; bare IPv6 has several
    }
    while (!host.empty() && host.back() == '.')
        host.remove_suffix(1);
    // A cookie's domain form (".example.com") names the same site.
    while (!host.empty() && host.front() == '.')
        host.remove_prefix(1);
    return ascii_lower(host);
}

bool is_ip_literal(std::string_view host) {
    std::string h = normalize_host(host);
    unsigned char buf[16];
    return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace byparr
