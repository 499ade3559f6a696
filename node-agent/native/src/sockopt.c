/* Socket creation and the few options the mesh needs (SO_MARK, transparency, flags). */
#include "sockopt.h"

#include <netinet/in.h>
#include <sys/socket.h>

int wm_tcp_socket(int family) {
  return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
}

int wm_set_mark(int fd, uint32_t mark) {
  return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark);
}

int wm_set_transparent(int fd, int family) {
  if (family == AF_INET6) return wm_set_flag(fd, SOL_IPV6, IPV6_TRANSPARENT, 1);
  return wm_set_flag(fd, SOL_IP, IP_TRANSPARENT, 1);
}

int wm_set_flag(int fd, int level, int option, int value) {
  return setsockopt(fd, level, option, &value, sizeof value);
}
