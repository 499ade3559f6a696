/* Module entry: registers the exported functions (contract in node-agent/native/index.ts). */
#include <node_api.h>

#include "exports.h"

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  const napi_property_descriptor properties[] = {
      {"originalDst", NULL, wm_original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listenInNetns", NULL, wm_listen_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tcpSocketInNetns", NULL, wm_tcp_socket_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMark", NULL, wm_set_mark_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getMark", NULL, wm_get_mark_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) {
    return NULL;
  }
  return exports;
}
