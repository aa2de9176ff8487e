#ifndef CNETCORESHIMS_H
#define CNETCORESHIMS_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <signal.h>

/// accept4(2): Glibc's Swift module hides it behind _GNU_SOURCE.
int netcore_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/// Routes `signo` to a self-pipe: the handler writes the signal number as one byte to `pipe_fd`.
/// Returns 0, or -1 with errno set.
int netcore_signal_route(int signo, int pipe_fd);

/// Restores the default disposition of `signo` (after the loop stops watching it).
int netcore_signal_reset(int signo);

/// Sets SIGPIPE to SIG_IGN unless the program already installed a handler or ignores it. Returns 0, or -1 with errno.
int netcore_ignore_sigpipe_if_default(void);

/// pipe2(2) with O_NONBLOCK | O_CLOEXEC, hidden behind _GNU_SOURCE like accept4.
int netcore_pipe_cloexec_nonblock(int fds[2]);

/// getrandom(2) with `flags` (0: the urandom pool, blocking only until it is first initialised).
/// Glibc's Swift module does not declare it (<sys/random.h>). Returns the byte count, or -1 with errno.
long netcore_getrandom(void *buffer, unsigned long length, unsigned int flags);

/// errno, readable from Swift without going through the thread-local macro.
int netcore_errno(void);
#endif

#endif
