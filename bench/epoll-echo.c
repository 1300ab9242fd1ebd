/* A reference echo server for `ringwire bench --external`: one thread, epoll,
 * non-blocking sockets, read into one static buffer and write it straight back.
 * No framing and no allocation: what a single event-loop thread costs when the
 * only work is the kernel's, so the Node contenders can be read against it.
 * A write the kernel does not take whole is kept per connection and finished on
 * EPOLLOUT before that connection is read again, so no byte is lost or reordered.
 *   cc -O2 -o build/epoll-echo bench/epoll-echo.c
 *   build/epoll-echo <port>            (listens on 127.0.0.1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
#define MAXFD 65536

struct pending { char *data; size_t len, off; };
static struct pending out[MAXFD];
static char buf[BUF];

static void drop(int ep, int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  free(out[fd].data);
  out[fd] = (struct pending){0};
}

/* Write what is pending for fd; 1 when all of it is out, 0 when the kernel is full, -1 on error. */
static int flush(int fd) {
  struct pending *p = &out[fd];
  while (p->off < p->len) {
    ssize_t n = write(fd, p->data + p->off, p->len - p->off);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    p->off += (size_t)n;
  }
  p->len = p->off = 0;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: epoll-echo <port>\n"); return 2; }
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) { perror("listen"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls }, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  printf("epoll-echo listening on 127.0.0.1:%s\n", argv[1]);
  fflush(stdout);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        int c;
        while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          if (c >= MAXFD) { close(c); continue; }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      if (out[fd].len) { /* EPOLLOUT: finish the pending write, then read again */
        int r = flush(fd);
        if (r < 0) { drop(ep, fd); continue; }
        if (r == 0) continue;
        ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = fd };
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        continue;
      }
      ssize_t got = read(fd, buf, BUF);
      if (got == 0 || (got < 0 && errno != EAGAIN)) { drop(ep, fd); continue; }
      if (got < 0) continue;
      ssize_t w = write(fd, buf, (size_t)got);
      if (w < 0 && errno != EAGAIN) { drop(ep, fd); continue; }
      if (w < got) { /* keep the rest and wait until the socket can take it */
        size_t off = w < 0 ? 0 : (size_t)w, rest = (size_t)got - off;
        out[fd].data = realloc(out[fd].data, BUF);
        memcpy(out[fd].data, buf + off, rest);
        out[fd].len = rest;
        out[fd].off = 0;
        ev = (struct epoll_event){ .events = EPOLLOUT, .data.fd = fd };
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
      }
    }
  }
}
