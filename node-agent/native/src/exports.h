/* The functions the addon exports to JavaScript; see node-agent/native/index.ts for the contract. */
#ifndef WAYMESH_EXPORTS_H
#define WAYMESH_EXPORTS_H

#include <node_api.h>

/* originalDst(fd) -> { address, port, family } */
napi_value wm_original_dst(napi_env env, napi_callback_info info);

/* listenInNetns(nsPath, { host, port, backlog, mark?, transparent?, v6Only? }) -> { fd, port } */
napi_value wm_listen_in_netns(napi_env env, napi_callback_info info);

/* tcpSocketInNetns(nsPath, { family: 4 | 6, mark? }) -> fd of an unconnected socket */
napi_value wm_tcp_socket_in_netns(napi_env env, napi_callback_info info);

/* setMark(fd, mark) -> undefined */
napi_value wm_set_mark_js(napi_env env, napi_callback_info info);

/* getMark(fd) -> mark */
napi_value wm_get_mark_js(napi_env env, napi_callback_info info);

#endif
