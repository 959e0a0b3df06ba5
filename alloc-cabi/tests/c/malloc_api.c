/* The C malloc API of libpoolalloc.so, exercised from C (tests/preload.rs compiles and runs it).
 *
 *   malloc_api preload   run with LD_PRELOAD=libpoolalloc.so: every symbol must resolve there
 *   malloc_api glibc     run without it: the same checks against glibc's malloc, which shows
 *                        that what the checks expect is what glibc does
 *
 * Prints one "ok <section> (<n> checks)" line per section, then "ALL OK <n> checks", and exits
 * 0; on the first failed check it prints "FAIL file:line: what" and exits 1. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* glibc exports these (GLIBC_2.2.5) without declaring them. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

extern char **environ;

static long checks;
static int preload;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        __atomic_add_fetch(&checks, 1, __ATOMIC_RELAXED);                              \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #cond, \
                    errno);                                                            \
            fflush(stderr);                                                            \
            _exit(1);                                                                  \
        }                                                                              \
    } while (0)

static void section(const char *name, long before) {
    printf("ok %s (%ld checks)\n", name, checks - before);
    fflush(stdout);
}

/* Sizes the compiler cannot see, so that it neither warns about nor folds huge requests. */
static volatile size_t v_max = SIZE_MAX, v_half = SIZE_MAX / 2, v_ptrdiff = PTRDIFF_MAX,
                       v_4g = (size_t)1 << 32;

static int aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* Fills / checks `n` bytes at `p` with a pattern derived from `seed`. */
static void fill(void *p, size_t n, unsigned seed) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(seed * 31 + i * 7);
}
static int intact(const void *p, size_t n, unsigned seed) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed * 31 + i * 7)) return 0;
    return 1;
}
static int all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

/* xorshift: deterministic sizes. */
static unsigned rnd(unsigned *s) {
    unsigned x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static const char *lib_of(const char *sym) {
    void *f = dlsym(RTLD_DEFAULT, sym);
    Dl_info info;
    if (!f || !dladdr(f, &info) || !info.dli_fname) return "(none)";
    return info.dli_fname;
}

static void test_symbols(void) {
    long c = checks;
    const char *syms[] = {"malloc",         "free",          "calloc",         "realloc",
                          "reallocarray",   "posix_memalign", "aligned_alloc", "memalign",
                          "valloc",         "pvalloc",       "malloc_usable_size",
                          "malloc_trim",    "__libc_malloc", "__libc_free",    "__libc_calloc",
                          "__libc_realloc", "__libc_memalign"};
    for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
        const char *lib = lib_of(syms[i]);
        int ours = strstr(lib, "libpoolalloc") != NULL;
        if (ours != preload) fprintf(stderr, "%s resolves to %s\n", syms[i], lib);
        CHECK(ours == preload);
    }
    section("symbols", c);
}

static void test_malloc(void) {
    long c = checks;
    void *a = malloc(0), *b = malloc(0);
    CHECK(a && b && a != b); /* glibc: a unique, freeable pointer */
    free(a);
    free(b);
    free(NULL);
    for (size_t n = 1; n <= (1u << 22); n = n < 300 ? n + 1 : n * 3 / 2) {
        unsigned char *p = malloc(n);
        CHECK(p != NULL);
        CHECK(aligned(p, 16));
        size_t u = malloc_usable_size(p);
        CHECK(u >= n);
        fill(p, u, (unsigned)n); /* the whole usable size is ours */
        CHECK(intact(p, u, (unsigned)n));
        free(p);
    }
    CHECK(malloc_usable_size(NULL) == 0);
    errno = 0;
    CHECK(malloc(v_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(v_half) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(v_ptrdiff) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(v_max - 4096) == NULL && errno == ENOMEM);
    section("malloc/free/malloc_usable_size", c);
}

static void test_calloc(void) {
    long c = checks;
    /* A reused block must come back zeroed. */
    for (size_t n = 8; n <= (1u << 21); n *= 2) {
        unsigned char *p = malloc(n);
        CHECK(p);
        memset(p, 0xAA, n);
        free(p);
        p = calloc(1, n);
        CHECK(p && aligned(p, 16) && all_zero(p, n));
        free(p);
        p = calloc(n / 8, 8);
        CHECK(p && all_zero(p, n));
        free(p);
    }
    void *z = calloc(0, 0), *z2 = calloc(0, 16), *z3 = calloc(16, 0);
    CHECK(z && z2 && z3);
    free(z);
    free(z2);
    free(z3);
    errno = 0;
    CHECK(calloc(v_half, 3) == NULL && errno == ENOMEM); /* the product overflows */
    errno = 0;
    CHECK(calloc(v_max, v_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(v_4g, v_4g) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(1, v_half) == NULL && errno == ENOMEM); /* no overflow, no memory */
    section("calloc", c);
}

static void test_realloc(void) {
    long c = checks;
    unsigned char *p = realloc(NULL, 100); /* malloc(100) */
    CHECK(p && aligned(p, 16) && malloc_usable_size(p) >= 100);
    fill(p, 100, 1);
    /* Grow from 100 B to 8 MiB and shrink back: the kept prefix survives every move. */
    size_t n = 100;
    while (n < (8u << 20)) {
        size_t m = n * 2 + 3;
        p = realloc(p, m);
        CHECK(p && aligned(p, 16));
        CHECK(intact(p, n, 1));
        fill(p, m, 1);
        n = m;
    }
    while (n > 10) {
        size_t m = n / 3;
        p = realloc(p, m);
        CHECK(p && aligned(p, 16) && malloc_usable_size(p) >= m);
        CHECK(intact(p, m, 1));
        n = m;
    }
    /* Failure leaves the block as it was. */
    errno = 0;
    CHECK(realloc(p, v_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(realloc(p, v_half) == NULL && errno == ENOMEM);
    CHECK(intact(p, n, 1));
    /* realloc(p, 0): glibc frees p and returns NULL. */
    CHECK(realloc(p, 0) == NULL);
    /* Same-size and small steps (in place or not, contents stay). */
    p = malloc(24);
    fill(p, 24, 9);
    for (size_t m = 25; m < 70000; m += 97) {
        p = realloc(p, m);
        CHECK(p && intact(p, 24, 9));
    }
    free(p);
    /* reallocarray */
    int *v = reallocarray(NULL, 10, sizeof(int));
    CHECK(v);
    for (int i = 0; i < 10; i++) v[i] = i * i;
    v = reallocarray(v, 100000, sizeof(int));
    CHECK(v);
    for (int i = 0; i < 10; i++) CHECK(v[i] == i * i);
    errno = 0;
    CHECK(reallocarray(v, v_half, 4) == NULL && errno == ENOMEM); /* overflow: v untouched */
    for (int i = 0; i < 10; i++) CHECK(v[i] == i * i);
    free(v);
    section("realloc/reallocarray", c);
}

static void test_aligned(void) {
    long c = checks;
    size_t sizes[] = {0, 1, 8, 100, 4096, 70000};
    for (size_t a = sizeof(void *); a <= (1u << 22); a *= 2) {
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            size_t sz[] = {sizes[i], a, 3 * a + 1};
            for (int k = 0; k < 3; k++) {
                size_t n = sz[k];
                void *p = (void *)0x1;
                errno = 4321;
                CHECK(posix_memalign(&p, a, n) == 0);
                CHECK(errno == 4321);
                CHECK(p && aligned(p, a) && aligned(p, 16) && malloc_usable_size(p) >= n);
                fill(p, n, 5);
                CHECK(intact(p, n, 5));
                free(p);
                p = aligned_alloc(a, n);
                CHECK(p && aligned(p, a) && malloc_usable_size(p) >= n);
                memset(p, 1, n);
                free(p);
                p = memalign(a, n);
                CHECK(p && aligned(p, a) && malloc_usable_size(p) >= n);
                memset(p, 1, n);
                free(p);
            }
        }
    }
    /* posix_memalign: EINVAL, ENOMEM, *out and errno untouched. */
    size_t bad[] = {0, 1, 2, 4, 3, 12, 24, 48, 4097, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        void *p = (void *)0x1;
        errno = 4321;
        CHECK(posix_memalign(&p, bad[i], 64) == EINVAL);
        CHECK(p == (void *)0x1 && errno == 4321);
    }
    {
        /* POSIX: errno is not set (glibc sets it to ENOMEM anyway; we leave it). */
        void *p = (void *)0x1;
        errno = 4321;
        CHECK(posix_memalign(&p, 64, v_max) == ENOMEM);
        CHECK(p == (void *)0x1 && (errno == 4321 || !preload));
        errno = 4321;
        CHECK(posix_memalign(&p, 1u << 20, v_half) == ENOMEM);
        CHECK(p == (void *)0x1 && (errno == 4321 || !preload));
    }
    /* memalign rounds an alignment that is not a power of two up to the next one. */
    for (size_t a = 1; a <= 200; a++) {
        size_t next = 1;
        while (next < a) next *= 2;
        void *p = memalign(a, 40);
        CHECK(p && aligned(p, next));
        free(p);
    }
    errno = 0;
    CHECK(memalign(v_max, 16) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(memalign(64, v_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(aligned_alloc(64, v_max) == NULL && errno == ENOMEM);
    if (preload) {
        /* glibc >= 2.38 does the same; older ones treat it as memalign. */
        errno = 0;
        CHECK(aligned_alloc(24, 64) == NULL && errno == EINVAL);
        errno = 0;
        CHECK(aligned_alloc(0, 64) == NULL && errno == EINVAL);
    }
    /* valloc, pvalloc */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t n = 0; n < 3 * page; n += 1000) {
        void *p = valloc(n);
        CHECK(p && aligned(p, page) && malloc_usable_size(p) >= n);
        memset(p, 2, n);
        free(p);
        p = pvalloc(n);
        size_t rounded = (n + page - 1) / page * page;
        CHECK(p && aligned(p, page) && malloc_usable_size(p) >= rounded);
        memset(p, 3, rounded);
        free(p);
    }
    errno = 0;
    CHECK(valloc(v_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(pvalloc(v_max) == NULL && errno == ENOMEM);
    section("posix_memalign/aligned_alloc/memalign/valloc/pvalloc", c);
}

static void test_libc_aliases(void) {
    long c = checks;
    /* The __libc_ names and the plain ones are one heap: blocks cross freely. */
    char *p = __libc_malloc(1000);
    CHECK(p && aligned(p, 16));
    fill(p, 1000, 3);
    p = realloc(p, 5000);
    CHECK(p && intact(p, 1000, 3));
    p = __libc_realloc(p, 100000);
    CHECK(p && intact(p, 1000, 3));
    free(p);
    p = malloc(300);
    __libc_free(p);
    p = __libc_calloc(100, 100);
    CHECK(p && all_zero(p, 10000));
    free(p);
    p = __libc_memalign(1u << 16, 10);
    CHECK(p && aligned(p, 1u << 16));
    __libc_free(p);
    errno = 0;
    CHECK(__libc_malloc(v_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(__libc_calloc(v_half, 4) == NULL && errno == ENOMEM);
    section("__libc_ aliases", c);
}

static void test_trim(void) {
    long c = checks;
    void *keep = malloc(100);
    void *ps[1000];
    for (int i = 0; i < 1000; i++) ps[i] = malloc(1000 + i);
    for (int i = 0; i < 1000; i++) free(ps[i]);
    int r = malloc_trim(0);
    if (preload) CHECK(r == 1);
    else CHECK(r == 0 || r == 1);
    /* The heap works as before after a trim. */
    for (int i = 0; i < 1000; i++) {
        ps[i] = malloc(1000 + i);
        CHECK(ps[i]);
        fill(ps[i], 1000 + i, i);
    }
    for (int i = 0; i < 1000; i++) {
        CHECK(intact(ps[i], 1000 + i, i));
        free(ps[i]);
    }
    free(keep);
    section("malloc_trim", c);
}

/* A live set of blocks of random sizes (16 B .. 512 KiB, log-distributed), each filled with a
 * pattern that is checked when it is freed: catches overlapping blocks and stray writes. */
static void test_churn(void) {
    long c = checks;
    enum { LIVE = 2000, OPS = 60000 };
    static void *blk[LIVE];
    static size_t len[LIVE];
    unsigned s = 12345;
    for (int op = 0; op < OPS; op++) {
        int i = rnd(&s) % LIVE;
        if (blk[i]) {
            CHECK(intact(blk[i], len[i] < 64 ? len[i] : 64, (unsigned)len[i]));
            if (rnd(&s) % 4 == 0) {
                size_t m = (size_t)1 << (rnd(&s) % 19);
                m += rnd(&s) % m;
                size_t keep = len[i] < m ? len[i] : m;
                blk[i] = realloc(blk[i], m);
                CHECK(blk[i] && intact(blk[i], keep < 64 ? keep : 64, (unsigned)len[i]));
                len[i] = m;
                fill(blk[i], m < 64 ? m : 64, (unsigned)m);
                continue;
            }
            free(blk[i]);
            blk[i] = NULL;
        } else {
            size_t m = (size_t)1 << (4 + rnd(&s) % 16);
            m += rnd(&s) % m;
            blk[i] = rnd(&s) % 8 == 0 ? calloc(1, m) : malloc(m);
            CHECK(blk[i] && aligned(blk[i], 16));
            len[i] = m;
            fill(blk[i], m < 64 ? m : 64, (unsigned)m);
        }
    }
    for (int i = 0; i < LIVE; i++) {
        if (blk[i]) CHECK(intact(blk[i], len[i] < 64 ? len[i] : 64, (unsigned)len[i]));
        free(blk[i]);
        blk[i] = NULL;
    }
    section("churn", c);
}

/* Threads: each allocates blocks and hands them to the next thread through a mailbox; the
 * receiver checks and frees them, so most frees are of another thread's blocks. */
enum { THREADS = 4, PER_THREAD = 20000, SLOTS = 64 };
struct mailbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *slot[SLOTS];
    size_t size[SLOTS];
    int n;
};
static struct mailbox boxes[THREADS];
static pthread_key_t exit_key;
static long freed_remote;

static void on_thread_exit(void *v) {
    /* glibc runs key destructors during thread exit: allocating here must work. */
    free(v);
    void *p = malloc(200);
    CHECK(p);
    memset(p, 1, 200);
    free(p);
}

static void drain(struct mailbox *b) {
    pthread_mutex_lock(&b->mu);
    while (b->n > 0) {
        b->n--;
        void *p = b->slot[b->n];
        size_t sz = b->size[b->n];
        CHECK(intact(p, sz < 128 ? sz : 128, (unsigned)sz));
        free(p);
        __atomic_add_fetch(&freed_remote, 1, __ATOMIC_RELAXED);
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void *worker(void *arg) {
    int me = (int)(intptr_t)arg;
    struct mailbox *out = &boxes[(me + 1) % THREADS], *in = &boxes[me];
    pthread_setspecific(exit_key, malloc(64));
    unsigned s = 777 + me;
    for (int i = 0; i < PER_THREAD; i++) {
        size_t sz = 8 + rnd(&s) % (rnd(&s) % 16 == 0 ? 300000 : 2000);
        void *p = malloc(sz);
        CHECK(p);
        fill(p, sz < 128 ? sz : 128, (unsigned)sz);
        pthread_mutex_lock(&out->mu);
        while (out->n == SLOTS) pthread_cond_wait(&out->cv, &out->mu);
        out->slot[out->n] = p;
        out->size[out->n] = sz;
        out->n++;
        pthread_cond_broadcast(&out->cv);
        pthread_mutex_unlock(&out->mu);
        if (i % 16 == 0) drain(in);
    }
    return NULL;
}

static void test_threads(void) {
    long c = checks;
    CHECK(pthread_key_create(&exit_key, on_thread_exit) == 0);
    for (int r = 0; r < 2; r++) {
        freed_remote = 0;
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
            pthread_mutex_init(&boxes[i].mu, NULL);
            pthread_cond_init(&boxes[i].cv, NULL);
            boxes[i].n = 0;
        }
        for (int i = 0; i < THREADS; i++)
            CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
        /* Each worker empties its own mailbox every 16 sends; the main thread empties them
         * all too, so that no worker waits forever on a full mailbox. */
        int joined[THREADS] = {0}, left = THREADS;
        while (left > 0) {
            for (int i = 0; i < THREADS; i++) drain(&boxes[i]);
            for (int i = 0; i < THREADS; i++) {
                if (!joined[i] && pthread_tryjoin_np(t[i], NULL) == 0) {
                    joined[i] = 1;
                    left--;
                }
            }
            usleep(100);
        }
        for (int i = 0; i < THREADS; i++) drain(&boxes[i]);
        CHECK(freed_remote == (long)THREADS * PER_THREAD);
    }
    section("threads (cross-thread frees, key destructors)", c);
}

/* Allocation in threads that keep running while the main thread forks and spawns. */
static volatile int stop_bg;
static void *background(void *arg) {
    unsigned s = (unsigned)(intptr_t)arg;
    void *live[64] = {0};
    while (!stop_bg) {
        int i = rnd(&s) % 64;
        free(live[i]);
        live[i] = malloc(16 + rnd(&s) % 100000);
    }
    for (int i = 0; i < 64; i++) free(live[i]);
    return NULL;
}

static void test_fork(void) {
    long c = checks;
    pthread_t bg[2];
    stop_bg = 0;
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&bg[i], NULL, background, (void *)(intptr_t)(99 + i)) == 0);
    char *parent_block = malloc(5000);
    fill(parent_block, 5000, 42);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            /* The child: the parent's blocks are intact and freeable; the heap works. */
            if (!intact(parent_block, 5000, 42)) _exit(2);
            free(parent_block);
            unsigned s = 5 + round;
            void *ps[500];
            for (int i = 0; i < 500; i++) {
                size_t n = 1 + rnd(&s) % 200000;
                ps[i] = malloc(n);
                if (!ps[i]) _exit(3);
                fill(ps[i], n < 32 ? n : 32, (unsigned)n);
                ps[i] = realloc(ps[i], n + 10);
                if (!ps[i] || !intact(ps[i], n < 32 ? n : 32, (unsigned)n)) _exit(4);
            }
            for (int i = 0; i < 500; i++) free(ps[i]);
            _exit(0);
        }
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(intact(parent_block, 5000, 42));
    free(parent_block);
    /* posix_spawn while other threads allocate. The child keeps LD_PRELOAD (and PATH) but
     * not POOLALLOC_STATS: the exit report stays the parent's alone. */
    char *child_env[3] = {NULL, NULL, NULL};
    int n_env = 0;
    for (char **e = environ; *e; e++)
        if (n_env < 2 && (!strncmp(*e, "LD_PRELOAD=", 11) || !strncmp(*e, "PATH=", 5)))
            child_env[n_env++] = *e;
    for (int round = 0; round < 5; round++) {
        pid_t pid;
        char *argv[] = {"true", NULL};
        CHECK(posix_spawnp(&pid, "true", NULL, NULL, argv, child_env) == 0);
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    stop_bg = 1;
    for (int i = 0; i < 2; i++) CHECK(pthread_join(bg[i], NULL) == 0);
    section("fork/posix_spawn with threads running", c);
}

int main(int argc, char **argv) {
    if (argc != 2 || (strcmp(argv[1], "preload") && strcmp(argv[1], "glibc"))) {
        fprintf(stderr, "usage: %s preload|glibc\n", argv[0]);
        return 2;
    }
    preload = strcmp(argv[1], "preload") == 0;
    test_symbols();
    test_malloc();
    test_calloc();
    test_realloc();
    test_aligned();
    test_libc_aliases();
    test_trim();
    test_churn();
    test_threads();
    test_fork();
    printf("ALL OK %ld checks\n", checks);
    return 0;
}
