// Client options for end-to-end tests, shared by the e2e test files.
#ifndef FXSERVE_TESTS_E2E_E2E_CLIENT_H_
#define FXSERVE_TESTS_E2E_E2E_CLIENT_H_

#include <string>

#include "absl/time/time.h"
#include "clients/cpp/inference_client.h"

namespace fxserve::testing {

// Options for `url` (designated initializers would trip
// -Wmissing-field-initializers).
inline client::ClientOptions UrlOptions(const std::string& url,
                                        const std::string& token = "") {
  client::ClientOptions options;
  options.url = url;
  options.bearer_token = token;
  // Health and metadata calls of a loaded or sanitized server can be slow;
  // the bound only ends a hang.
  options.default_timeout = absl::Seconds(120);
  return options;
}

}  // namespace fxserve::testing

#endif  // FXSERVE_TESTS_E2E_E2E_CLIENT_H_
