/* Converting between IP literals and socket addresses. */
#ifndef WAYMESH_SOCKADDR_H
#define WAYMESH_SOCKADDR_H

#include <node_api.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Fills `addr` from an IPv4 or IPv6 literal and a port. Returns AF_INET or AF_INET6, or 0 when
 * `host` is not an IP literal (host names are not resolved: resolution would run in the wrong
 * namespace).
 */
int wm_sockaddr_parse(const char *host, uint16_t port, struct sockaddr_storage *addr, socklen_t *len);

/* Creates `{ address, port, family: 4 | 6 }`; returns NULL with a pending exception on failure. */
napi_value wm_sockaddr_to_js(napi_env env, const struct sockaddr *addr);

#endif
