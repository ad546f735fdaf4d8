#pragma once
// The report page's template (src/run/report.html) and Debian's Chart.js, compiled into the
// library by CMake (report_assets.cpp is generated), so that a report needs neither the network
// nor any file at run time.
#include <string>

namespace selfsup::run::report_assets {

const std::string& page_template();
const std::string& chart_js();
/// Where Chart.js was taken from and the project's version, for the page's footer.
const std::string& chart_js_source();
const std::string& version();

}  // namespace selfsup::run::report_assets
