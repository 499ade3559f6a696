/*
 * listenInNetns(nsPath, options): a listening TCP socket that lives in another network namespace.
 * A socket belongs to the namespace it was created in, so the thread enters the namespace just
 * for socket/setsockopt/bind/listen and returns; Node then adopts the fd with
 * `server.listen({ fd })`.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "netns.h"
#include "sockaddr.h"
#include "sockopt.h"

typedef struct {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  int family;
  int backlog;
  bool has_mark;
  uint32_t mark;
  bool transparent;
  bool has_v6only;
  bool v6only;
} listen_options;

static bool parse_options(napi_env env, napi_value obj, listen_options *o) {
  napi_value host_value;
  bool has_host, has_port, has_backlog, has_transparent;
  char host[INET6_ADDRSTRLEN];
  int64_t port = 0, backlog = 511, mark = 0;
  if (!wm_get_prop(env, obj, "host", &host_value, &has_host) ||
      !wm_get_opt_int(env, obj, "port", 0, UINT16_MAX, &port, &has_port) ||
      !wm_get_opt_int(env, obj, "backlog", 1, INT_MAX, &backlog, &has_backlog) ||
      !wm_get_opt_int(env, obj, "mark", 0, UINT32_MAX, &mark, &o->has_mark) ||
      !wm_get_opt_bool(env, obj, "transparent", &o->transparent, &has_transparent) ||
      !wm_get_opt_bool(env, obj, "v6Only", &o->v6only, &o->has_v6only)) {
    return false;
  }
  if (!has_host || !has_port) {
    wm_throw_arg(env, "options.host and options.port are required");
    return false;
  }
  if (!wm_get_string(env, host_value, "options.host", host, sizeof host)) return false;
  o->family = wm_sockaddr_parse(host, (uint16_t)port, &o->addr, &o->addr_len);
  if (o->family == 0) {
    wm_throw_arg(env, "options.host must be an IPv4 or IPv6 literal");
    return false;
  }
  if (!has_transparent) o->transparent = false;
  o->backlog = (int)backlog;
  o->mark = (uint32_t)mark;
  return true;
}

/* Runs inside the target namespace; on failure closes the socket and names the failing call. */
static int open_listener(const listen_options *o, int *out_fd, uint16_t *out_port, const char **syscall) {
  int fd = wm_tcp_socket(o->family);
  if (fd < 0) {
    *syscall = "socket";
    return errno;
  }
  *syscall = "setsockopt";
  if (wm_set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0) goto fail;
  if (o->has_mark && wm_set_mark(fd, o->mark) != 0) goto fail;
  if (o->transparent && wm_set_transparent(fd, o->family) != 0) goto fail;
  if (o->family == AF_INET6 && o->has_v6only && wm_set_flag(fd, SOL_IPV6, IPV6_V6ONLY, o->v6only) != 0) goto fail;
  *syscall = "bind";
  if (bind(fd, (const struct sockaddr *)&o->addr, o->addr_len) != 0) goto fail;
  *syscall = "listen";
  if (listen(fd, o->backlog) != 0) goto fail;

  struct sockaddr_storage bound;
  socklen_t len = sizeof bound;
  *syscall = "getsockname";
  if (getsockname(fd, (struct sockaddr *)&bound, &len) != 0) goto fail;
  *out_fd = fd;
  *out_port = ntohs(o->family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                         : ((struct sockaddr_in6 *)&bound)->sin6_port);
  return 0;

fail:;
  int err = errno;
  close(fd);
  return err;
}

static napi_value make_result(napi_env env, int fd, uint16_t port) {
  napi_value result, fd_value, port_value;
  if (napi_create_object(env, &result) != napi_ok || napi_create_int32(env, fd, &fd_value) != napi_ok ||
      napi_create_uint32(env, port, &port_value) != napi_ok ||
      napi_set_named_property(env, result, "fd", fd_value) != napi_ok ||
      napi_set_named_property(env, result, "port", port_value) != napi_ok) {
    return NULL;
  }
  return result;
}

napi_value wm_listen_in_netns(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX];
  listen_options o;
  if (!wm_args(env, info, 2, argv) || !wm_get_string(env, argv[0], "nsPath", path, sizeof path) ||
      !parse_options(env, argv[1], &o)) {
    return NULL;
  }

  wm_netns saved;
  const char *syscall = NULL;
  int err = wm_netns_enter(path, &saved, &syscall);
  if (err != 0) return wm_throw_errno(env, err, syscall, path);
  int fd = -1;
  uint16_t port = 0;
  err = open_listener(&o, &fd, &port, &syscall);
  wm_netns_leave(&saved);
  if (err != 0) return wm_throw_errno(env, err, syscall, NULL);

  napi_value result = make_result(env, fd, port);
  if (result == NULL) close(fd);
  return result;
}
