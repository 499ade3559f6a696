/* Errors thrown into JavaScript: system errors shaped like Node's own (code, errno, syscall). */
#ifndef WAYMESH_ERRORS_H
#define WAYMESH_ERRORS_H

#include <node_api.h>

/*
 * Throws an Error whose `code` is the errno name (`ENOENT`), `errno` the negated number (as Node's
 * own system errors), `syscall` the failing call and, when `path` is not NULL, `path`.
 * Always returns NULL so callers can `return wm_throw_errno(...)`.
 */
napi_value wm_throw_errno(napi_env env, int err, const char *syscall, const char *path);

/* Throws a TypeError with code ERR_INVALID_ARG_TYPE; returns NULL. */
napi_value wm_throw_arg(napi_env env, const char *message);

#endif
