/*
 * originalDst(fd): the destination a connection had before iptables REDIRECT/DNAT rewrote it,
 * read from conntrack with SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "args.h"
#include "errors.h"
#include "exports.h"
#include "sockaddr.h"

/*
 * From linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h, whose uapi includes clash
 * with the libc socket headers; both values are fixed kernel ABI.
 */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

napi_value wm_original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!wm_args(env, info, 1, argv) || !wm_get_fd(env, argv[0], "fd", &fd)) return NULL;

  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) {
    return wm_throw_errno(env, errno, "getsockname", NULL);
  }

  /*
   * A dual-stack listener accepts IPv4 clients as IPv4-mapped IPv6 sockets; their flows are
   * tracked as IPv4, so they are asked at SOL_IP and reported as family 4.
   */
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) {
    return wm_throw_errno(env, EAFNOSUPPORT, "getsockname", NULL);
  }
  const struct sockaddr_in6 *local6 = (const struct sockaddr_in6 *)&local;
  bool v4 = local.ss_family == AF_INET || IN6_IS_ADDR_V4MAPPED(&local6->sin6_addr);

  struct sockaddr_storage dst = {0};
  len = v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  int rc = v4 ? getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len)
              : getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len);
  if (rc != 0) return wm_throw_errno(env, errno, "getsockopt", NULL);
  return wm_sockaddr_to_js(env, (const struct sockaddr *)&dst);
}
