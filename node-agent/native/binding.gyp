{
  "targets": [
    {
      "target_name": "waymesh_native",
      "sources": [
        "src/addon.c",
        "src/args.c",
        "src/errors.c",
        "src/mark.c",
        "src/netns.c",
        "src/netns_listen.c",
        "src/netns_socket.c",
        "src/original_dst.c",
        "src/sockaddr.c",
        "src/sockopt.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-Wshadow", "-Wformat=2", "-Wunused-parameter"],
      "cflags_c": ["-std=gnu11", "-Wstrict-prototypes"]
    }
  ]
}
