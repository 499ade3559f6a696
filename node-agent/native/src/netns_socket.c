/*
 * tcpSocketInNetns(nsPath, { family, mark? }): an unconnected TCP socket created in another
 * network namespace. The namespace of a socket is fixed when it is created, so connect() may run
 * later on any thread: node-agent/native/index.ts hands the fd to a net.Socket and lets Node's
 * own connect drive the handshake.
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
#include "sockopt.h"

/* Runs inside the target namespace; on failure closes the socket and names the failing call. */
static int open_socket(int family, bool has_mark, uint32_t mark, int *out_fd, const char **syscall) {
  int fd = wm_tcp_socket(family);
  if (fd < 0) {
    *syscall = "socket";
    return errno;
  }
  /* The mark must be on the socket before its first packet (the SYN) so iptables sees it. */
  if (has_mark && wm_set_mark(fd, mark) != 0) {
    int err = errno;
    close(fd);
    *syscall = "setsockopt";
    return err;
  }
  *out_fd = fd;
  return 0;
}

napi_value wm_tcp_socket_in_netns(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX];
  int64_t family, mark = 0;
  bool present, has_mark;
  if (!wm_args(env, info, 2, argv) || !wm_get_string(env, argv[0], "nsPath", path, sizeof path) ||
      !wm_get_opt_int(env, argv[1], "family", 4, 6, &family, &present) ||
      !wm_get_opt_int(env, argv[1], "mark", 0, UINT32_MAX, &mark, &has_mark)) {
    return NULL;
  }
  if (!present || family == 5) return wm_throw_arg(env, "options.family must be 4 or 6");

  wm_netns saved;
  const char *syscall = NULL;
  int err = wm_netns_enter(path, &saved, &syscall);
  if (err != 0) return wm_throw_errno(env, err, syscall, path);
  int fd = -1;
  err = open_socket(family == 4 ? AF_INET : AF_INET6, has_mark, (uint32_t)mark, &fd, &syscall);
  wm_netns_leave(&saved);
  if (err != 0) return wm_throw_errno(env, err, syscall, NULL);

  napi_value result;
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}
