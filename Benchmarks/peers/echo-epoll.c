// echo-epoll.c — the C peer of NetCore's echo-server: a minimal, single-threaded epoll echo server that answers
// every chunk it reads with "Repeating: " + chunk (the O'Reilly example 3-2 protocol).
//
// Build:  cc -O2 -Wall -Wextra -o echo-epoll echo-epoll.c
// Usage:  echo-epoll [PORT]            listen on 127.0.0.1:PORT (default 8124)
//         echo-epoll --unix PATH       listen on a Unix-domain socket
//         add --nodelay to set TCP_NODELAY on accepted sockets (off by default, like Node's and NetCore's servers)
//
// Design: level-triggered epoll, non-blocking sockets, one read per readiness event (fair across connections),
// and one writev(prefix, chunk) per chunk read. When the kernel takes only part of a reply, the rest is copied
// into the connection's pending buffer, EPOLLOUT replaces EPOLLIN until it is flushed (so a client that does not
// read cannot make us buffer without bound), and reading resumes afterwards. An idle connection costs one small
// struct; the 64 KiB read buffer is shared. SIGINT/SIGTERM end the process.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

static const char PREFIX[] = "Repeating: ";
#define PREFIX_LEN (sizeof PREFIX - 1)
#define READ_SIZE (64 * 1024)

typedef struct conn {
  int fd;
  char *pending;      // unsent tail of the last reply (NULL when everything was sent)
  size_t pending_len; // bytes in pending
  size_t pending_off; // bytes of pending already sent
} conn;

static int epfd;
static int nodelay;
static char readbuf[READ_SIZE];

static void set_interest(conn *c, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) perror("epoll_ctl(MOD)");
}

static void conn_close(conn *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pending);
  free(c);
}

// Keeps bytes [from, total) of the reply (prefix + data) for later; returns -1 on allocation failure.
static int keep_tail(conn *c, const char *data, size_t data_len, size_t from) {
  size_t total = PREFIX_LEN + data_len;
  c->pending = malloc(total - from);
  if (!c->pending) return -1;
  size_t n = 0;
  if (from < PREFIX_LEN) {
    memcpy(c->pending, PREFIX + from, PREFIX_LEN - from);
    n = PREFIX_LEN - from;
    from = PREFIX_LEN;
  }
  memcpy(c->pending + n, data + (from - PREFIX_LEN), total - from);
  c->pending_len = n + (total - from);
  c->pending_off = 0;
  return 0;
}

static void on_readable(conn *c) {
  ssize_t r;
  do r = read(c->fd, readbuf, sizeof readbuf);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    conn_close(c);  // ECONNRESET and friends
    return;
  }
  if (r == 0) {  // the client ended: end too (allowHalfOpen false)
    conn_close(c);
    return;
  }
  struct iovec iov[2] = {{(void *)PREFIX, PREFIX_LEN}, {readbuf, (size_t)r}};
  size_t total = PREFIX_LEN + (size_t)r;
  ssize_t w;
  do w = writev(c->fd, iov, 2);
  while (w < 0 && errno == EINTR);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      conn_close(c);
      return;
    }
    w = 0;
  }
  if ((size_t)w == total) return;
  if (keep_tail(c, readbuf, (size_t)r, (size_t)w) < 0) {
    conn_close(c);
    return;
  }
  set_interest(c, EPOLLOUT);  // stop reading until the reply is out
}

static void on_writable(conn *c) {
  while (c->pending_off < c->pending_len) {
    ssize_t w = write(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      conn_close(c);
      return;
    }
    c->pending_off += (size_t)w;
  }
  free(c->pending);
  c->pending = NULL;
  c->pending_len = c->pending_off = 0;
  set_interest(c, EPOLLIN);
}

static void on_acceptable(int lfd, int is_tcp) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) perror("accept4");  // EMFILE: retried on the next event
      return;
    }
    if (is_tcp && nodelay) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      perror("epoll_ctl(ADD)");
      close(fd);
      free(c);
    }
  }
}

static void usage(void) {
  fprintf(stderr, "usage: echo-epoll [PORT] [--unix PATH] [--nodelay]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int port = 8124;
  const char *unix_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc) unix_path = argv[++i];
    else if (strcmp(argv[i], "--nodelay") == 0) nodelay = 1;
    else if (argv[i][0] >= '0' && argv[i][0] <= '9') port = atoi(argv[i]);
    else usage();
  }
  if (port < 1 || port > 65535) usage();
  signal(SIGPIPE, SIG_IGN);

  // Up to the hard limit: the idle-connections benchmark holds 10,000 sockets.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  int lfd;
  if (unix_path) {
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(unix_path) >= sizeof un.sun_path) usage();
    strcpy(un.sun_path, unix_path);
    unlink(unix_path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&un, sizeof un) < 0) {
      perror("bind");
      return 3;
    }
  } else {
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd >= 0) setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&in, sizeof in) < 0) {
      perror("bind");
      return 3;
    }
  }
  if (listen(lfd, 4096) < 0) {
    perror("listen");
    return 3;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  static int listener_tag;  // epoll data for the listener: its address, never a conn
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listener_tag};
  if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
    perror("epoll");
    return 1;
  }

  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == &listener_tag) {
        on_acceptable(lfd, unix_path == NULL);
        continue;
      }
      conn *c = events[i].data.ptr;
      // A connection closed earlier in this batch cannot appear later in it: each fd is reported once per
      // epoll_wait, and closing removes it before the next wait.
      if (c->pending) {
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(c);
      } else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        on_readable(c);
      }
    }
  }
}
