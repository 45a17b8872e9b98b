// mlpack's read tracer: an LD_PRELOAD library that records every file a traced command and
// its descendants open, and whether for reading or writing (spec/FORMAT.md §9.5).
//
// Records go to a log file that every traced process maps shared (MLPACK_TRACE_LOG): a
// record is reserved with one atomic add and copied in, so the hot path makes no system
// call for an absolute path, takes no lock and allocates nothing; a process killed at any
// moment loses nothing it already recorded (the pages belong to the file), and no file
// descriptor is held that the traced program could close or reuse. The exec family is
// wrapped so children keep the library even when given an environment without it.
//
// mlpack compiles this file at build time (Plugins/EmbedTracer) and carries the shared
// object inside its binary.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_MAGIC "MLPTRC1"

// The log: this header, then records. Each record is `size` bytes (a multiple of 8): the
// size, the pid, the kind, the path and its NUL. The kind is stored last, so a record whose
// writer died half-way has kind 0 and is skipped.
struct log_header {
    char magic[8];
    _Atomic uint64_t used;     // bytes of records reserved after the header
    uint64_t capacity;         // bytes available for records
    _Atomic uint32_t overflow; // set when a record did not fit
    uint32_t reserved;
};

struct record {
    uint32_t size;
    int32_t pid;
    _Atomic uint8_t kind;
    char path[];
};

enum {
    KIND_READ = 'r',     // opened read-only
    KIND_WRITE = 'w',    // opened for writing (or created, truncated)
    KIND_START = 's',    // a process started with the tracer loaded (path: its executable)
    KIND_EXEC = 'x',     // a process is about to exec a program (path: as given)
    KIND_EXEC_FAILED = 'f',
};

static struct log_header *header;
static char *records;
static int cached_pid;
static const char *preload_entry;   // "LD_PRELOAD=..." as this process received it
static const char *log_entry;       // "MLPACK_TRACE_LOG=..."

// Not through syscall(), which this library wraps.
static int real_getpid(void) { return (int)getpid(); }

static void append(uint8_t kind, int pid, const char *prefix, const char *path) {
    if (!header) return;
    size_t prefix_length = prefix ? strlen(prefix) : 0;
    size_t path_length = strlen(path);
    size_t separator = prefix_length && prefix[prefix_length - 1] != '/' ? 1 : 0;
    size_t size = (sizeof(struct record) + prefix_length + separator + path_length + 1 + 7) & ~(size_t)7;
    uint64_t offset = atomic_fetch_add_explicit(&header->used, size, memory_order_relaxed);
    if (offset + size > header->capacity) {
        atomic_store_explicit(&header->overflow, 1, memory_order_relaxed);
        return;
    }
    struct record *entry = (struct record *)(records + offset);
    entry->size = (uint32_t)size;
    entry->pid = pid;
    char *out = entry->path;
    if (prefix_length) {
        memcpy(out, prefix, prefix_length);
        out += prefix_length;
        if (separator) *out++ = '/';
    }
    memcpy(out, path, path_length + 1);
    atomic_store_explicit(&entry->kind, kind, memory_order_release);
}

// The working folder, asked of the kernel once per thread until a chdir: a data loader opens
// thousands of relative paths, and a getcwd for each would be a system call on the hot path.
// Threads share one working folder; a per-thread copy needs no lock.
static _Atomic unsigned cwd_generation = 1;
static __thread unsigned cwd_cached_generation;
static __thread char cwd_cached[PATH_MAX];

static const char *working_folder(void) {
    unsigned generation = atomic_load_explicit(&cwd_generation, memory_order_acquire);
    if (cwd_cached_generation != generation) {
        if (!getcwd(cwd_cached, sizeof cwd_cached)) return NULL;
        cwd_cached_generation = generation;
    }
    return cwd_cached;
}

static void working_folder_changed(void) { atomic_fetch_add_explicit(&cwd_generation, 1, memory_order_release); }

// A path as the process meant it: relative paths against the folder they are relative to.
static void record_open(uint8_t kind, int directory, const char *path) {
    if (!header || !path || !*path) return;
    if (path[0] == '/') {
        append(kind, cached_pid, NULL, path);
        return;
    }
    if (directory == AT_FDCWD) {
        const char *folder = working_folder();
        if (folder) append(kind, cached_pid, folder, path);
        return;
    }
    char folder[PATH_MAX];
    {
        char link[32];
        snprintf(link, sizeof link, "/proc/self/fd/%d", directory);
        ssize_t n = readlink(link, folder, sizeof folder - 1);
        if (n <= 0) return;
        folder[n] = 0;
    }
    append(kind, cached_pid, folder, path);
}

static uint8_t kind_of_flags(int flags) {
    return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) ? KIND_WRITE : KIND_READ;
}

static uint8_t kind_of_mode(const char *mode) {
    return mode && (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+')) ? KIND_WRITE : KIND_READ;
}

static void after_fork(void) { cached_pid = real_getpid(); }

#define REAL(name) \
    static __typeof__(name) *real_##name; \
    if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

__attribute__((constructor)) static void start(void) {
    cached_pid = real_getpid();
    const char *path = getenv("MLPACK_TRACE_LOG");
    if (!path) return;
    for (char **entry = environ; *entry; entry++) {
        if (!strncmp(*entry, "LD_PRELOAD=", 11)) preload_entry = *entry;
        if (!strncmp(*entry, "MLPACK_TRACE_LOG=", 17)) log_entry = *entry;
    }
    REAL(openat);
    int fd = real_openat(AT_FDCWD, path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    struct log_header probe;
    if (pread(fd, &probe, sizeof probe, 0) != (ssize_t)sizeof probe || memcmp(probe.magic, LOG_MAGIC, 8)) {
        close(fd);
        return;
    }
    void *base = mmap(NULL, sizeof probe + probe.capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return;
    pthread_atfork(NULL, NULL, after_fork);
    header = base;
    records = (char *)base + sizeof(struct log_header);
    char executable[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", executable, sizeof executable - 1);
    executable[n > 0 ? n : 0] = 0;
    append(KIND_START, cached_pid, NULL, executable);
}

// ---- opening files

static int open_mode_needed(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

#define OPEN_WRAPPER(name, ...)                                   \
    int name(const char *path, int flags, ...) {                  \
        REAL(name);                                               \
        mode_t mode = 0;                                          \
        if (open_mode_needed(flags)) {                            \
            va_list list;                                         \
            va_start(list, flags);                                \
            mode = va_arg(list, mode_t);                          \
            va_end(list);                                         \
        }                                                         \
        int fd = real_##name(path, flags, mode);                  \
        if (fd >= 0 && !(flags & O_DIRECTORY)) record_open(kind_of_flags(flags), AT_FDCWD, path); \
        return fd;                                                \
    }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name)                                      \
    int name(int directory, const char *path, int flags, ...) {   \
        REAL(name);                                               \
        mode_t mode = 0;                                          \
        if (open_mode_needed(flags)) {                            \
            va_list list;                                         \
            va_start(list, flags);                                \
            mode = va_arg(list, mode_t);                          \
            va_end(list);                                         \
        }                                                         \
        int fd = real_##name(directory, path, flags, mode);       \
        if (fd >= 0 && !(flags & O_DIRECTORY)) record_open(kind_of_flags(flags), directory, path); \
        return fd;                                                \
    }
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

// What _FORTIFY_SOURCE builds call instead of open/openat (Debian's python3 is one).
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int directory, const char *path, int flags);
int __openat64_2(int directory, const char *path, int flags);
#define FORTIFIED_OPEN(name)                                      \
    int name(const char *path, int flags) {                       \
        REAL(name);                                               \
        int fd = real_##name(path, flags);                        \
        if (fd >= 0 && !(flags & O_DIRECTORY)) record_open(kind_of_flags(flags), AT_FDCWD, path); \
        return fd;                                                \
    }
FORTIFIED_OPEN(__open_2)
FORTIFIED_OPEN(__open64_2)
#define FORTIFIED_OPENAT(name)                                    \
    int name(int directory, const char *path, int flags) {        \
        REAL(name);                                               \
        int fd = real_##name(directory, path, flags);             \
        if (fd >= 0 && !(flags & O_DIRECTORY)) record_open(kind_of_flags(flags), directory, path); \
        return fd;                                                \
    }
FORTIFIED_OPENAT(__openat_2)
FORTIFIED_OPENAT(__openat64_2)

int creat(const char *path, mode_t mode) {
    REAL(creat);
    int fd = real_creat(path, mode);
    if (fd >= 0) record_open(KIND_WRITE, AT_FDCWD, path);
    return fd;
}
int creat64(const char *path, mode_t mode) {
    REAL(creat64);
    int fd = real_creat64(path, mode);
    if (fd >= 0) record_open(KIND_WRITE, AT_FDCWD, path);
    return fd;
}

#define FOPEN_WRAPPER(name)                                       \
    FILE *name(const char *path, const char *mode) {              \
        REAL(name);                                               \
        FILE *file = real_##name(path, mode);                     \
        if (file) record_open(kind_of_mode(mode), AT_FDCWD, path); \
        return file;                                              \
    }
FOPEN_WRAPPER(fopen)
FOPEN_WRAPPER(fopen64)

#define FREOPEN_WRAPPER(name)                                     \
    FILE *name(const char *path, const char *mode, FILE *stream) { \
        REAL(name);                                               \
        FILE *file = real_##name(path, mode, stream);             \
        if (file && path) record_open(kind_of_mode(mode), AT_FDCWD, path); \
        return file;                                              \
    }
FREOPEN_WRAPPER(freopen)
FREOPEN_WRAPPER(freopen64)

// A file moved into place was written, under its new name (how many tools save safely).
int rename(const char *from, const char *to) {
    REAL(rename);
    int result = real_rename(from, to);
    if (result == 0) record_open(KIND_WRITE, AT_FDCWD, to);
    return result;
}
int renameat(int from_directory, const char *from, int to_directory, const char *to) {
    REAL(renameat);
    int result = real_renameat(from_directory, from, to_directory, to);
    if (result == 0) record_open(KIND_WRITE, to_directory, to);
    return result;
}
int renameat2(int from_directory, const char *from, int to_directory, const char *to, unsigned int flags) {
    REAL(renameat2);
    int result = real_renameat2(from_directory, from, to_directory, to, flags);
    if (result == 0) record_open(KIND_WRITE, to_directory, to);
    return result;
}

// ---- changing folders: what invalidates the cached working folder

int chdir(const char *path) {
    REAL(chdir);
    int result = real_chdir(path);
    if (result == 0) working_folder_changed();
    return result;
}
int fchdir(int directory) {
    REAL(fchdir);
    int result = real_fchdir(directory);
    if (result == 0) working_folder_changed();
    return result;
}

// Some runtimes (Rust's standard library among them) make these calls through syscall()
// rather than their libc wrappers.
long syscall(long number, ...) {
    REAL(syscall);
    va_list list;
    va_start(list, number);
    long a = va_arg(list, long), b = va_arg(list, long), c = va_arg(list, long);
    long d = va_arg(list, long), e = va_arg(list, long), f = va_arg(list, long);
    va_end(list);
    long result = real_syscall(number, a, b, c, d, e, f);
    if (result < 0 || !header) return result;
    int saved = errno;
    switch (number) {
    case SYS_open:
        if (!((int)b & O_DIRECTORY)) record_open(kind_of_flags((int)b), AT_FDCWD, (const char *)a);
        break;
    case SYS_openat:
        if (!((int)c & O_DIRECTORY)) record_open(kind_of_flags((int)c), (int)a, (const char *)b);
        break;
    case SYS_chdir:
    case SYS_fchdir: working_folder_changed(); break;
    case SYS_creat: record_open(KIND_WRITE, AT_FDCWD, (const char *)a); break;
    case SYS_rename: record_open(KIND_WRITE, AT_FDCWD, (const char *)b); break;
    case SYS_renameat:
    case SYS_renameat2: record_open(KIND_WRITE, (int)c, (const char *)d); break;
    }
    errno = saved;
    return result;
}

// ---- starting programs: the child keeps the tracer whatever environment it is given

static size_t count(char *const list[]) {
    size_t n = 0;
    while (list && list[n]) n++;
    return n;
}

// `envp` with this process's LD_PRELOAD and MLPACK_TRACE_LOG entries put back, written into
// `out` (room for count(envp) + 3 pointers).
static char *const *traced_environment(char *const envp[], char **out) {
    if (!header || !preload_entry || !log_entry) return envp;
    size_t n = 0;
    for (size_t i = 0; envp && envp[i]; i++) {
        if (!strncmp(envp[i], "LD_PRELOAD=", 11) || !strncmp(envp[i], "MLPACK_TRACE_LOG=", 17)) continue;
        out[n++] = envp[i];
    }
    out[n++] = (char *)preload_entry;
    out[n++] = (char *)log_entry;
    out[n] = NULL;
    return out;
}

// The exec is recorded before it happens (it does not return when it works), and undone
// when it fails.
#define EXEC_WRAPPER(name)                                                                      \
    int name(const char *program, char *const argv[], char *const envp[]) {                     \
        REAL(name);                                                                             \
        char *environment[count(envp) + 3];                                                     \
        int pid = real_getpid();                                                                \
        append(KIND_EXEC, pid, NULL, program);                                                  \
        int result = real_##name(program, argv, traced_environment(envp, environment));         \
        int saved = errno;                                                                      \
        append(KIND_EXEC_FAILED, pid, NULL, program);                                           \
        errno = saved;                                                                          \
        return result;                                                                          \
    }
EXEC_WRAPPER(execve)
EXEC_WRAPPER(execvpe)

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }
int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

#define COLLECT_ARGUMENTS(first)                                  \
    va_list list;                                                 \
    size_t n = 1;                                                 \
    va_start(list, first);                                        \
    while (va_arg(list, char *)) n++;                             \
    va_end(list);                                                 \
    char *argv[n + 1];                                            \
    argv[0] = (char *)first;                                      \
    va_start(list, first);                                        \
    for (size_t i = 1; i <= n; i++) argv[i] = va_arg(list, char *);

int execl(const char *path, const char *arg, ...) {
    COLLECT_ARGUMENTS(arg)
    va_end(list);
    return execve(path, argv, environ);
}
int execlp(const char *file, const char *arg, ...) {
    COLLECT_ARGUMENTS(arg)
    va_end(list);
    return execvpe(file, argv, environ);
}
int execle(const char *path, const char *arg, ...) {
    COLLECT_ARGUMENTS(arg)
    char *const *envp = va_arg(list, char *const *);
    va_end(list);
    return execve(path, argv, envp);
}

#define SPAWN_WRAPPER(name)                                                                     \
    int name(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,           \
             const posix_spawnattr_t *attributes, char *const argv[], char *const envp[]) {     \
        REAL(name);                                                                             \
        char *environment[count(envp) + 3];                                                     \
        pid_t child = 0;                                                                        \
        int result = real_##name(&child, path, actions, attributes, argv,                      \
                                 traced_environment(envp, environment));                        \
        if (result == 0) append(KIND_EXEC, child, NULL, path);                                  \
        if (pid) *pid = child;                                                                  \
        return result;                                                                          \
    }
SPAWN_WRAPPER(posix_spawn)
SPAWN_WRAPPER(posix_spawnp)
