/* Argument and option parsing. Every getter throws a TypeError and returns false on bad input. */
#ifndef WAYMESH_ARGS_H
#define WAYMESH_ARGS_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads exactly `count` arguments into argv; fewer is an error. */
bool wm_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv);

/* An int32 file descriptor; bad ones are left for the kernel to refuse with EBADF. */
bool wm_get_fd(napi_env env, napi_value value, const char *name, int *out);

/* An integer in [min, max]. */
bool wm_get_int(napi_env env, napi_value value, const char *name, int64_t min, int64_t max, int64_t *out);

/* A boolean. */
bool wm_get_bool(napi_env env, napi_value value, const char *name, bool *out);

/* A string without NUL bytes that fits in buf (size includes the terminator). */
bool wm_get_string(napi_env env, napi_value value, const char *name, char *buf, size_t size);

/*
 * Reads property `key` of `obj`; *present is false when it is missing or undefined.
 * Returns false (with a pending exception) only when the property cannot be read.
 */
bool wm_get_prop(napi_env env, napi_value obj, const char *key, napi_value *out, bool *present);

/* Optional integer property in [min, max]; *present says whether it was given. */
bool wm_get_opt_int(napi_env env, napi_value obj, const char *key, int64_t min, int64_t max, int64_t *out,
                    bool *present);

/* Optional boolean property; *present says whether it was given. */
bool wm_get_opt_bool(napi_env env, napi_value obj, const char *key, bool *out, bool *present);

#endif
