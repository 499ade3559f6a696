/* setMark/getMark: SO_MARK on an existing socket (used to exempt the mesh's own traffic). */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "sockopt.h"

napi_value wm_set_mark_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t mark;
  if (!wm_args(env, info, 2, argv) || !wm_get_fd(env, argv[0], "fd", &fd) ||
      !wm_get_int(env, argv[1], "mark", 0, UINT32_MAX, &mark)) {
    return NULL;
  }
  if (wm_set_mark(fd, (uint32_t)mark) != 0) return wm_throw_errno(env, errno, "setsockopt", NULL);
  return NULL;
}

napi_value wm_get_mark_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!wm_args(env, info, 1, argv) || !wm_get_fd(env, argv[0], "fd", &fd)) return NULL;
  uint32_t mark = 0;
  socklen_t len = sizeof mark;
  if (getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) != 0) {
    return wm_throw_errno(env, errno, "getsockopt", NULL);
  }
  napi_value result;
  if (napi_create_uint32(env, mark, &result) != napi_ok) return NULL;
  return result;
}
