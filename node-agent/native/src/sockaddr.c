/* IP literals to socket addresses and socket addresses to `{ address, port, family }`. */
#include "sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "errors.h"

int wm_sockaddr_parse(const char *host, uint16_t port, struct sockaddr_storage *addr, socklen_t *len) {
  memset(addr, 0, sizeof *addr);
  struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
    return AF_INET;
  }
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
    return AF_INET6;
  }
  return 0;
}

static napi_value make_result(napi_env env, const char *text, uint16_t port, int family) {
  napi_value result, address, port_value, family_value;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address) != napi_ok ||
      napi_create_uint32(env, port, &port_value) != napi_ok ||
      napi_create_uint32(env, family, &family_value) != napi_ok ||
      napi_set_named_property(env, result, "address", address) != napi_ok ||
      napi_set_named_property(env, result, "port", port_value) != napi_ok ||
      napi_set_named_property(env, result, "family", family_value) != napi_ok) {
    return NULL;
  }
  return result;
}

napi_value wm_sockaddr_to_js(napi_env env, const struct sockaddr *addr) {
  char text[INET6_ADDRSTRLEN];
  if (addr->sa_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)addr;
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    return make_result(env, text, ntohs(v4->sin_port), 4);
  }
  if (addr->sa_family == AF_INET6) {
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    return make_result(env, text, ntohs(v6->sin6_port), 6);
  }
  return wm_throw_errno(env, EAFNOSUPPORT, "getsockname", NULL);
}
