import Foundation
import Testing

@testable import MLPack

@Suite("run --trace: reading strace's log")
struct RunTraceTests {
    static let log = #"""
        100  openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
        100  openat(AT_FDCWD, "data/train.csv", O_RDONLY) = 4
        100  openat(AT_FDCWD, "out.txt", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 5
        100  openat(AT_FDCWD, "missing.csv", O_RDONLY) = -1 ENOENT (No such file or directory)
        101  openat(AT_FDCWD, "/data/na\303\257ve \"q\".csv", O_RDONLY|O_CLOEXEC <unfinished ...>
        100  openat(3, "relative-to-a-folder.txt", O_RDONLY) = 6
        101  <... openat resumed>) = 7
        100  open("/old/style.txt", O_RDONLY) = 8
        100  openat(AT_FDCWD, "rw.txt", O_RDWR) = 9
        100  openat(AT_FDCWD, "/created.txt", O_RDONLY|O_CREAT, 0644) = 10
        100  --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101, si_uid=0, si_status=0} ---
        101  +++ exited with 0 +++
        100  openat(AT_FDCWD, "../up.txt", O_RDONLY) = 11
        100  openat(5, "/absolute/despite/fd.txt", O_RDONLY|O_NOFOLLOW) = 12
        102  openat(AT_FDCWD, "/never/finished", O_RDONLY <unfinished ...>
        102  +++ killed by SIGKILL +++
        openat(AT_FDCWD, "/no/pid/column", O_RDONLY) = 3
        100  rename("model.tmp", "model.bin") = 0
        100  renameat2(AT_FDCWD, "b.tmp", AT_FDCWD, "/abs/b.bin", RENAME_NOREPLACE) = 0
        100  rename("gone.tmp", "never.bin") = -1 ENOENT (No such file or directory)
        100  creat("c.txt", 0644) = 13
        """#

    @Test("successful read-only opens, in order, absolute; writes, failures and descriptor-relative paths left out")
    func parsesLog() {
        #expect(
            ReadTrace.parse(Self.log, cwd: "/work/p").read == [
                "/etc/ld.so.cache", "/work/p/data/train.csv", "/data/naïve \"q\".csv", "/old/style.txt", "/work/up.txt",
                "/absolute/despite/fd.txt", "/no/pid/column",
            ])
    }

    @Test("files written: opened for writing (not O_RDONLY|O_CREAT), created, or renamed into place, in order")
    func parsesWrites() {
        #expect(
            ReadTrace.parse(Self.log, cwd: "/work/p").written == [
                "/work/p/out.txt", "/work/p/rw.txt", "/work/p/model.bin", "/abs/b.bin", "/work/p/c.txt",
            ])
    }

    @Test(
        "C escapes in strace's strings",
        arguments: [
            (#""plain" rest"#, "plain", " rest"), (#""a\\b\"c""#, #"a\b"c"#, ""), (#""\x41\x42" x"#, "AB", " x"),
            (#""\303\251\0017""#, "é\u{1}7", ""), (#""tab\there""#, "tab\there", ""),
        ])
    func quoted(input: String, decoded: String, rest: String) throws {
        let (value, after) = try #require(ReadTrace.quoted(Substring(input)))
        #expect(value == decoded)
        #expect(after == Substring(rest))
    }

    @Test("an unterminated or missing string is not a path")
    func notQuoted() {
        #expect(ReadTrace.quoted(#""never ends"#) == nil)
        #expect(ReadTrace.quoted("AT_FDCWD") == nil)
    }

    @Test("system files are not data; files in the home folder or /tmp are")
    func systemFiles() {
        for path in [
            "/usr/lib/x.so", "/lib64/ld.so", "/lib/x", "/etc/hostname", "/proc/self/maps", "/dev/urandom",
            "/opt/conda/lib/a.py",
            "/var/cache/x", "/tmp/pip-build/lib/site-packages/torch/x.py", "/sys/devices/x",
        ] {
            #expect(ReadTrace.isSystemFile(path), "\(path)")
        }
        for path in ["/home/me/data/train.csv", "/tmp/vocab.txt", "/data/shards/0.bin", "/library/x"] {
            #expect(!ReadTrace.isSystemFile(path), "\(path)")
        }
    }
}
