#define _GNU_SOURCE
#include "CNetCoreShims.h"

#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

long netcore_getrandom(void *buffer, unsigned long length, unsigned int flags) {
    return (long)getrandom(buffer, (size_t)length, flags);
}

int netcore_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

// One write end per signal number. A signal handler may only touch async-signal-safe state,
// so this is a plain array of ints written before the handler is installed.
static volatile int signal_pipes[65];

static void route_signal(int signo) {
    int saved = errno;  // write(2) may clobber errno of the interrupted code
    int fd = (signo > 0 && signo < 65) ? signal_pipes[signo] : -1;
    if (fd > 0) {
        unsigned char byte = (unsigned char)signo;
        ssize_t ignored = write(fd, &byte, 1);  // full pipe: the loop already has a wake-up pending
        (void)ignored;
    }
    errno = saved;
}

int netcore_signal_route(int signo, int pipe_fd) {
    if (signo <= 0 || signo >= 65) { errno = EINVAL; return -1; }
    signal_pipes[signo] = pipe_fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = route_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(signo, &action, NULL) != 0) return -1;
    // A process may start with the signal blocked (Foundation's Process does that to its children); a handler
    // that never runs would make the program ignore SIGTERM. Node unblocks too.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0 ? 0 : -1;
}

int netcore_signal_reset(int signo) {
    if (signo <= 0 || signo >= 65) { errno = EINVAL; return -1; }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    int rc = sigaction(signo, &action, NULL);
    signal_pipes[signo] = 0;
    return rc;
}

int netcore_ignore_sigpipe_if_default(void) {
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) != 0) return -1;
    if (current.sa_handler != SIG_DFL || (current.sa_flags & SA_SIGINFO)) return 0;  // the program chose already
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    return sigaction(SIGPIPE, &ignore, NULL);
}

int netcore_pipe_cloexec_nonblock(int fds[2]) {
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

int netcore_errno(void) { return errno; }
#endif
