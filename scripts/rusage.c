/* rusage: runs a command and prints its wall time and peak RSS, for scripts/bench-preload.sh
 * (no dependency on /usr/bin/time, which a fresh machine may lack).
 *
 *   rusage PRELOAD OUT CMD [ARGS...]
 *
 * PRELOAD: a shared object set as LD_PRELOAD for CMD only (not for rusage itself), or "-" for
 * none. OUT: where CMD's stdout goes ("-" keeps it). Prints "<wall seconds> <peak RSS KiB>
 * <exit status>" on stdout. The peak RSS is getrusage(RUSAGE_CHILDREN)'s ru_maxrss: the
 * largest resident set of CMD and of every descendant it waited for (for gcc: the largest of
 * gcc, cc1, as, collect2, ld), not a sum. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PRELOAD|- OUT|- CMD [ARGS...]\n", argv[0]);
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        if (strcmp(argv[1], "-") != 0) setenv("LD_PRELOAD", argv[1], 1);
        else unsetenv("LD_PRELOAD");
        if (strcmp(argv[2], "-") != 0) {
            int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || dup2(fd, 1) < 0) {
                perror(argv[2]);
                _exit(127);
            }
            close(fd);
        }
        execvp(argv[3], argv + 3);
        perror(argv[3]);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) {
        perror("waitpid");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    printf("%.4f %ld %d\n", wall, ru.ru_maxrss, code);
    return 0;
}
