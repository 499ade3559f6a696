/* System errors shaped like Node's own, so callers can match on `code` whatever raised them. */
#include "errors.h"

#include <stdio.h>
#include <string.h>

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value str;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &str) == napi_ok) {
    napi_set_named_property(env, obj, key, str);
  }
}

napi_value wm_throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  /* strerrorname_np/strerrordesc_np are thread-safe, unlike strerror (glibc >= 2.32). */
  const char *name = strerrorname_np(err);
  const char *desc = strerrordesc_np(err);
  char message[512];
  if (name == NULL) name = "EUNKNOWN";
  if (desc == NULL) desc = "unknown error";
  if (path != NULL) {
    snprintf(message, sizeof message, "%s: %s, %s '%.384s'", name, desc, syscall, path);
  } else {
    snprintf(message, sizeof message, "%s: %s, %s", name, desc, syscall);
  }

  napi_value code, msg, error, errno_value;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, code, msg, &error) != napi_ok) {
    napi_throw_error(env, name, message);
    return NULL;
  }
  if (napi_create_int32(env, -err, &errno_value) == napi_ok) {
    napi_set_named_property(env, error, "errno", errno_value);
  }
  set_string(env, error, "syscall", syscall);
  if (path != NULL) set_string(env, error, "path", path);
  napi_throw(env, error);
  return NULL;
}

napi_value wm_throw_arg(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}
