/*
 * setns(2) into a network namespace and back. Only the calling thread moves (a namespace is a
 * per-task attribute), so Node's other threads and the event loop are unaffected; and because
 * the JavaScript thread runs nothing else between enter and leave, no JavaScript ever observes
 * the foreign namespace.
 */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <sched.h>
#include <unistd.h>

/* /proc/self would name the thread-group leader, which is not the caller inside a worker. */
#define THREAD_NETNS "/proc/thread-self/ns/net"

int wm_netns_enter(const char *path, wm_netns *saved, const char **syscall) {
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    *syscall = "open";
    return errno;
  }
  int origin = open(THREAD_NETNS, O_RDONLY | O_CLOEXEC);
  if (origin < 0) {
    int err = errno;
    close(target);
    *syscall = "open";
    return err;
  }
  /* CLONE_NEWNET makes the kernel refuse (EINVAL) an fd that is not a network namespace. */
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(origin);
    *syscall = "setns";
    return err;
  }
  close(target);
  saved->origin_fd = origin;
  return 0;
}

void wm_netns_leave(wm_netns *saved) {
  /*
   * Going back needs only the fd we hold and the privilege we just used, so failure means the
   * kernel is out of memory. Carrying on with the JavaScript thread in the wrong namespace would
   * silently bind and connect in the wrong network, which is worse than stopping: abort loudly.
   */
  for (int attempt = 0; setns(saved->origin_fd, CLONE_NEWNET) != 0; attempt++) {
    if (attempt == 3) {
      napi_fatal_error("waymesh_native", NAPI_AUTO_LENGTH,
                       "cannot return the thread to its original network namespace", NAPI_AUTO_LENGTH);
    }
  }
  close(saved->origin_fd);
  saved->origin_fd = -1;
}
