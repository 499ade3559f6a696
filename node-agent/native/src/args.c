/* Argument and option parsing shared by every exported function. */
#include "args.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

static bool fail(napi_env env, const char *name, const char *expected) {
  char message[160];
  snprintf(message, sizeof message, "%.64s must be %.64s", name, expected);
  wm_throw_arg(env, message);
  return false;
}

bool wm_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    wm_throw_arg(env, "could not read the arguments");
    return false;
  }
  if (argc < count) {
    char message[96];
    snprintf(message, sizeof message, "expected %zu arguments, got %zu", count, argc);
    wm_throw_arg(env, message);
    return false;
  }
  return true;
}

bool wm_get_int(napi_env env, napi_value value, const char *name, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype type;
  double number;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, value, &number) != napi_ok) {
    return fail(env, name, "a number");
  }
  if (!isfinite(number) || floor(number) != number || number < (double)min || number > (double)max) {
    char expected[96];
    snprintf(expected, sizeof expected, "an integer in [%lld, %lld]", (long long)min, (long long)max);
    return fail(env, name, expected);
  }
  *out = (int64_t)number;
  return true;
}

bool wm_get_fd(napi_env env, napi_value value, const char *name, int *out) {
  int64_t fd;
  if (!wm_get_int(env, value, name, INT32_MIN, INT32_MAX, &fd)) return false;
  *out = (int)fd;
  return true;
}

bool wm_get_bool(napi_env env, napi_value value, const char *name, bool *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_boolean ||
      napi_get_value_bool(env, value, out) != napi_ok) {
    return fail(env, name, "a boolean");
  }
  return true;
}

bool wm_get_string(napi_env env, napi_value value, const char *name, char *buf, size_t size) {
  napi_valuetype type;
  size_t length;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string ||
      napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    return fail(env, name, "a string");
  }
  if (length == 0 || length >= size) return fail(env, name, "a non-empty string of sane length");
  if (napi_get_value_string_utf8(env, value, buf, size, &length) != napi_ok) {
    return fail(env, name, "a string");
  }
  /* An embedded NUL would silently shorten a path handed to the kernel. */
  if (strlen(buf) != length) return fail(env, name, "a string without NUL bytes");
  return true;
}

bool wm_get_prop(napi_env env, napi_value obj, const char *key, napi_value *out, bool *present) {
  napi_valuetype type;
  if (napi_typeof(env, obj, &type) != napi_ok || type != napi_object) {
    fail(env, "options", "an object");
    return false;
  }
  if (napi_get_named_property(env, obj, key, out) != napi_ok) return false;
  if (napi_typeof(env, *out, &type) != napi_ok) return false;
  *present = type != napi_undefined;
  return true;
}

bool wm_get_opt_int(napi_env env, napi_value obj, const char *key, int64_t min, int64_t max, int64_t *out,
                    bool *present) {
  napi_value value;
  if (!wm_get_prop(env, obj, key, &value, present)) return false;
  return !*present || wm_get_int(env, value, key, min, max, out);
}

bool wm_get_opt_bool(napi_env env, napi_value obj, const char *key, bool *out, bool *present) {
  napi_value value;
  if (!wm_get_prop(env, obj, key, &value, present)) return false;
  return !*present || wm_get_bool(env, value, key, out);
}
