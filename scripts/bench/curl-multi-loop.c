/*
 * The reference for `make bench-http`: bare libcurl on one thread with nothing around it — no callers
 * to resume, no Swift, one easy handle per connection re-added as soon as its transfer ends. What this
 * reaches is what libcurl itself allows one thread; the engine's ratio to it is the engine's own overhead.
 *
 * Two ways to drive the multi handle, to show which one libcurl is cheaper with:
 *   poll    the engine's loop: curl_multi_perform, then curl_multi_poll (the default);
 *   socket  libcurl's event API: curl_multi_socket_action driven by epoll, with socket and timer callbacks.
 *
 *   cc -O2 -o curl-multi-loop curl-multi-loop.c -lcurl
 *   ./curl-multi-loop URL CONCURRENCY SECONDS [poll|socket]
 *
 * Prints one line: mode=… requests_per_s=… cpu_us_per_req=… requests=… errors=…
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

static size_t discard(char *data, size_t size, size_t count, void *context) {
    (void)data;
    (void)context;
    return size * count;
}

static double seconds(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* The epoll set and libcurl's next timeout, for the socket mode. */
static int epollFD = -1;
static long timerMs = -1;

static int onSocket(CURL *easy, curl_socket_t socket, int what, void *multi, void *registered) {
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epollFD, EPOLL_CTL_DEL, socket, NULL);
        curl_multi_assign(multi, socket, NULL);
        return 0;
    }
    struct epoll_event event = {0};
    event.data.fd = socket;
    if (what & CURL_POLL_IN) event.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) event.events |= EPOLLOUT;
    if (registered) {
        epoll_ctl(epollFD, EPOLL_CTL_MOD, socket, &event);
    } else {
        epoll_ctl(epollFD, EPOLL_CTL_ADD, socket, &event);
        curl_multi_assign(multi, socket, (void *)1);
    }
    return 0;
}

static int onTimer(CURLM *multi, long timeoutMs, void *context) {
    (void)multi;
    (void)context;
    timerMs = timeoutMs;
    return 0;
}

/* Counts finished transfers and starts each handle's next one at once. */
static void collect(CURLM *multi, long *requests, long *errors) {
    int queued = 0;
    CURLMsg *message;
    while ((message = curl_multi_info_read(multi, &queued))) {
        if (message->msg != CURLMSG_DONE) continue;
        CURL *easy = message->easy_handle;
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (message->data.result != CURLE_OK || status < 200 || status > 299) (*errors)++;
        (*requests)++;
        curl_multi_remove_handle(multi, easy);
        curl_multi_add_handle(multi, easy);
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s URL CONCURRENCY SECONDS [poll|socket]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int concurrency = atoi(argv[2]);
    double duration = atof(argv[3]);
    const char *mode = argc == 5 ? argv[4] : "poll";
    int socketMode = strcmp(mode, "socket") == 0;
    if (concurrency < 1 || duration <= 0 || (!socketMode && strcmp(mode, "poll") != 0)) {
        fprintf(stderr, "error: CONCURRENCY must be at least 1, SECONDS above 0 and the mode poll or socket\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) return 1;
    CURLM *multi = curl_multi_init();
    if (!multi) return 1;
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
    if (socketMode) {
        epollFD = epoll_create1(0);
        if (epollFD < 0) return 1;
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, onSocket);
        curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, multi);
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, onTimer);
    }
    for (int i = 0; i < concurrency; i++) {
        CURL *easy = curl_easy_init();
        if (!easy) return 1;
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(multi, easy);
    }
    long requests = 0, errors = 0;
    int running = 0;
    double start = seconds(CLOCK_MONOTONIC), cpuStart = seconds(CLOCK_THREAD_CPUTIME_ID);
    if (socketMode) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    struct epoll_event events[256];
    while (seconds(CLOCK_MONOTONIC) - start < duration) {
        if (socketMode) {
            int ready = epoll_wait(epollFD, events, 256, timerMs < 0 ? 1000 : (int)timerMs);
            if (ready == 0) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
            for (int i = 0; i < ready; i++) {
                int bits = 0;
                if (events[i].events & (EPOLLIN | EPOLLHUP)) bits |= CURL_CSELECT_IN;
                if (events[i].events & EPOLLOUT) bits |= CURL_CSELECT_OUT;
                if (events[i].events & EPOLLERR) bits |= CURL_CSELECT_ERR;
                curl_multi_socket_action(multi, events[i].data.fd, bits, &running);
            }
            collect(multi, &requests, &errors);
        } else {
            curl_multi_perform(multi, &running);
            collect(multi, &requests, &errors);
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
        }
    }
    double elapsed = seconds(CLOCK_MONOTONIC) - start, cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - cpuStart;
    printf("mode=%s requests_per_s=%.0f cpu_us_per_req=%.2f requests=%ld errors=%ld\n", mode, requests / elapsed,
           requests ? cpu * 1e6 / requests : 0.0, requests, errors);
    return 0;
}
