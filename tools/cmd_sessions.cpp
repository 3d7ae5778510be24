// byparrctl sessions: list and destroy browser sessions.
#include "tools/ctl.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tools/text_table.h"

namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace byparr::ctl {

namespace {

constexpr const char* kSessionsHelp = R"(Usage: byparrctl [--json] sessions list
       byparrctl [--json] sessions destroy ID

  list      the ids of the live browser sessions.
  destroy   close one session and free its browser context.
)";

}  // namespace

int cmd_sessions(Context& c) {
    const auto& a = c.opt.args;
    if (c.opt.help) {
        std::cout << kSessionsHelp;
        return kOk;
    }
    if (a.size() < 2) throw UsageError("sessions needs a subcommand: list, destroy");
    if (a[1] == "list") {
        if (a.size() != 2) throw UsageError("sessions list takes no arguments");
        auto r = admin(c, "GET", "/sessions");
        if (r.status != 200) return fail(error_message(r));
        if (c.opt.json) {
            std::cout << r.body << "\n";
            return kOk;
        }
        auto arr = parse_object(r.body)->getArray("sessions");
        if (!arr || arr->size() == 0) {
            std::cout << "no sessions\n";
            return kOk;
        }
        TextTable t({"SESSION"});
        for (size_t i = 0; i < arr->size(); ++i)
            t.add({arr->getElement<std::string>(static_cast<unsigned>(i))});
        t.print(std::cout);
        return kOk;
    }
    if (a[1] == "destroy") {
        if (a.size() != 3) throw UsageError("sessions destroy takes one ID");
        auto r = admin(c, "DELETE", "/sessions/" + encode_segment(a[2]));
        return print_result(c, r, "session " + a[2] + " destroyed");
    }
    throw UsageError("unknown sessions subcommand '" + a[1] + "'");
}

}  // namespace byparr::ctl
