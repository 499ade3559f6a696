/* Socket creation and options shared by listeners and outbound sockets. */
#ifndef WAYMESH_SOCKOPT_H
#define WAYMESH_SOCKOPT_H

#include <stdint.h>

/* Creates a non-blocking, close-on-exec TCP socket of `family`; returns the fd or -1 with errno set. */
int wm_tcp_socket(int family);

/* Sets SO_MARK (needs CAP_NET_ADMIN); returns 0 or -1 with errno set. */
int wm_set_mark(int fd, uint32_t mark);

/* Sets IP_TRANSPARENT or IPV6_TRANSPARENT to match `family`; returns 0 or -1 with errno set. */
int wm_set_transparent(int fd, int family);

/* Sets a boolean (int-valued) socket option; returns 0 or -1 with errno set. */
int wm_set_flag(int fd, int level, int option, int value);

#endif
