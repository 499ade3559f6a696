/* Running a few syscalls on the calling thread inside another network namespace. */
#ifndef WAYMESH_NETNS_H
#define WAYMESH_NETNS_H

/* What wm_netns_enter saved: an fd to the thread's original network namespace. */
typedef struct {
  int origin_fd;
} wm_netns;

/*
 * Moves the calling thread into the network namespace at `path` (`/var/run/netns/NAME`,
 * `/proc/PID/ns/net`). Returns 0, or an errno with *syscall naming the failing call; on failure
 * the thread has not moved and nothing is left open.
 */
int wm_netns_enter(const char *path, wm_netns *saved, const char **syscall);

/*
 * Returns the calling thread to the namespace saved by wm_netns_enter and closes the saved fd.
 * Must be called exactly once after every successful wm_netns_enter.
 */
void wm_netns_leave(wm_netns *saved);

#endif
