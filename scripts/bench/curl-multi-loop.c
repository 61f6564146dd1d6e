/*
 * The reference for `make bench-http`: bare libcurl on one thread, the loop the engine runs
 * (curl_multi_perform, then curl_multi_poll) with nothing around it — no callers to resume, no
 * Swift, one easy handle per connection re-added as soon as its transfer ends. What this reaches is
 * what libcurl itself allows one thread; the engine's ratio to it is the engine's own overhead.
 *
 *   cc -O2 -o curl-multi-loop curl-multi-loop.c -lcurl
 *   ./curl-multi-loop URL CONCURRENCY SECONDS
 *
 * Prints one line: requests_per_s=… cpu_us_per_req=… requests=… errors=…
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL CONCURRENCY SECONDS\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int concurrency = atoi(argv[2]);
    double duration = atof(argv[3]);
    if (concurrency < 1 || duration <= 0) {
        fprintf(stderr, "error: CONCURRENCY must be at least 1 and SECONDS above 0\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) return 1;
    CURLM *multi = curl_multi_init();
    if (!multi) return 1;
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
    for (int i = 0; i < concurrency; i++) {
        CURL *easy = curl_easy_init();
        if (!easy) return 1;
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(multi, easy);
    }
    long requests = 0, errors = 0;
    double start = seconds(CLOCK_MONOTONIC), cpuStart = seconds(CLOCK_THREAD_CPUTIME_ID);
    while (seconds(CLOCK_MONOTONIC) - start < duration) {
        int running = 0, queued = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *message;
        while ((message = curl_multi_info_read(multi, &queued))) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL *easy = message->easy_handle;
            long status = 0;
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            if (message->data.result != CURLE_OK || status < 200 || status > 299) errors++;
            requests++;
            curl_multi_remove_handle(multi, easy);
            curl_multi_add_handle(multi, easy);
        }
        curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    double elapsed = seconds(CLOCK_MONOTONIC) - start, cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - cpuStart;
    printf("requests_per_s=%.0f cpu_us_per_req=%.2f requests=%ld errors=%ld\n", requests / elapsed,
           requests ? cpu * 1e6 / requests : 0.0, requests, errors);
    return 0;
}
