/* Shared by the two halves of the stand-in CANN runtime (a test double: no Ascend
 * hardware is reachable here). Every call is logged, one line each, and any function can
 * be made to fail by name, so the plugin's call sequence, arguments and error paths are
 * what the tests check. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define STANDIN_ERROR 507899 /* an ACL runtime error code */

static char standin_log_buf[1 << 20];
static size_t standin_log_len;
static char standin_failing[128];
static char standin_message[512];

static void logf_(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(standin_log_buf + standin_log_len, sizeof standin_log_buf - standin_log_len - 2, fmt, ap);
  va_end(ap);
  if (n > 0 && standin_log_len + (size_t)n + 2 < sizeof standin_log_buf) {
    standin_log_len += (size_t)n;
    standin_log_buf[standin_log_len++] = '\n';
    standin_log_buf[standin_log_len] = 0;
  }
}

/* Nonzero (and the message set) when `name` was asked to fail. */
static int failing(const char* name) {
  if (strcmp(standin_failing, name) != 0) return 0;
  snprintf(standin_message, sizeof standin_message, "stand-in: %s failed as the test asked", name);
  logf_("%s -> FAIL", name);
  return 1;
}

static int bad(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(standin_message, sizeof standin_message, fmt, ap);
  va_end(ap);
  logf_("ERROR %s", standin_message);
  return STANDIN_ERROR;
}
