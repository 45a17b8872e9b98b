#!/usr/bin/env python3
"""A second, independent reader of the .mlpack format, written from spec/FORMAT.md alone.

    python3 spec/verify.py P.mlpack [--key author.pub]... [--keyring DIR] [--allow-unsigned]
    python3 spec/verify.py P.mlpack --key author.pub --extract-one ITEM_PATH [--to FILE]

It checks a pack as FORMAT.md §6 says (container and seek index §2-3, tar dialect and reader
rules §2.3 and §7, limits §8, manifest and disclosures §5, item digests, payload sizes and
SHA-256, the BagIt and RO-Crate views §6.2-6.3, the signature and derived packs §10) and
answers with the verdict words and exit codes of `mlpack verify`:

    0 verified · 1 invalid · 2 usage or I/O error, not a pack · 3 no trusted signature

Python 3.9 standard library only; zstd frames are decompressed by the `zstd` program and
signatures checked by the `minisign` program. Every byte of the pack is treated as hostile:
nothing is trusted through the seek index, and limits hold while decompressing.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unicodedata

PROGRAM = "verify.py"
EXIT_VERIFIED, EXIT_INVALID, EXIT_USAGE, EXIT_UNTRUSTED = 0, 1, 2, 3

ZSTD_MAGIC = 0xFD2FB528
INDEX_MAGIC = 0x184D2A5E
MAX_WINDOW = 1 << 24
MAX_PAX = 16 * 1024
RATIO_AFTER = 256 * 1024 * 1024
BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)

ROLES = {"card", "code", "code-snapshot", "weights", "checkpoint", "output", "metrics",
         "data", "data-ref", "run", "env", "host", "note"}
MANIFEST = "mlpack/manifest.json"
SIGNATURE = "mlpack/manifest.json.minisig"
DISCLOSURES = "mlpack/disclosures.json"
ORIGINAL_MANIFEST = "mlpack/original/manifest.json"
ORIGINAL_SIGNATURE = "mlpack/original/manifest.json.minisig"
ORIGINAL_DISCLOSURES = "mlpack/original/disclosures.json"
RO_CRATE = "data/ro-crate-metadata.json"
CARD = "data/pack.json"
TAG_FILES = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
             DISCLOSURES, MANIFEST, SIGNATURE, ORIGINAL_DISCLOSURES, ORIGINAL_MANIFEST,
             ORIGINAL_SIGNATURE]
REQUIRED_TAG_FILES = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
                      DISCLOSURES, MANIFEST]
BAGIT_DECLARATION = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}\Z")
CREATED_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
DIGEST_RE = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]\Z")
HEX64_RE = re.compile(r"[0-9a-f]{64}\Z")


class Invalid(Exception):
    """The pack breaks a rule: exit 1, naming the entry and the rule."""

    def __init__(self, entry, problem):
        super().__init__(f"{entry}: {problem}")


class Unusable(Exception):
    """Usage or I/O error, or not an mlpack file at all: exit 2."""


class Untrusted(Exception):
    """Intact, but no signature the user trusts: exit 3."""


class Limit(Invalid):
    def __init__(self, name, detail, flag):
        Exception.__init__(self, f"limit {name} exceeded: {detail} (raise it with {flag})")


# ---------------------------------------------------------------------------------------
# Small helpers


def shown(raw):
    """A printable form of raw name bytes for messages (control characters as \\xNN)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text)


def b64url_decode(text):
    """Unpadded base64url (RFC 4648 §5), strictly: alphabet, no padding, canonical last bits."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return raw if b64url(raw) == text else None


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _reject_float(text):
    raise ValueError(f"{text}: numbers are integers (digits only)")


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(data):
    """Strict JSON (§5.2): UTF-8, integers only, no NaN, no duplicate object keys."""
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        raise ValueError("byte order mark")
    return json.loads(text, parse_float=_reject_float, parse_constant=_reject_constant,
                      object_pairs_hook=_no_duplicate_keys)


def is_int(value):
    return type(value) is int and value >= 0


# ---------------------------------------------------------------------------------------
# §7.1 paths

# Characters that join the character before them into one extended grapheme cluster
# (UAX #29 GB9, GB9a: Grapheme_Cluster_Break Extend, ZWJ, SpacingMark), approximated from
# the General_Category the standard library knows, plus the few others of that property.
EXTRA_EXTENDERS = {0x200C, 0x200D, 0xFF9E, 0xFF9F}
# Characters that join the one after them (GB9b: Grapheme_Cluster_Break=Prepend).
PREPEND = set(range(0x0600, 0x0606)) | {0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x0D4E, 0x110BD,
                                        0x110CD, 0x111C2, 0x111C3, 0x1193F, 0x11941, 0x11A3A,
                                        0x11A84, 0x11A85, 0x11A86, 0x11A87, 0x11A88, 0x11A89,
                                        0x11D46, 0x11F02}


def extends_cluster(char):
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Mc", "Me") or code in EXTRA_EXTENDERS
            or 0xE0020 <= code <= 0xE007F or 0x1F3FB <= code <= 0x1F3FF)


def path_problem(path):
    """The §7.1 rule (1-5) a path (str) breaks, or None."""
    raw = path.encode("utf-8", "surrogatepass")
    if not path:
        return "empty path"
    if len(raw) > 4096:
        return "path longer than 4096 bytes"
    if path.startswith("/"):
        return "absolute path"
    for char in path:
        if char == "\0":
            return "NUL in path"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return "control character in path"
        if char == "\\":
            return "backslash in path"
        if char == "%":
            return "'%' in path (BagIt would need to escape it)"
        if 0xD800 <= ord(char) <= 0xDFFF:
            return "path is not valid UTF-8"
    if unicodedata.normalize("NFC", path) != path:
        return "path is not in Unicode NFC form"
    for component in path.split("/"):
        if component == "":
            return "empty path component"
        if component in (".", ".."):
            return f"'{component}' in path"
        if len(component.encode("utf-8")) > 255:
            return "path component longer than 255 bytes"
        if component.startswith(" ") or component.endswith(" "):
            return "path component starts or ends with a space"
        if extends_cluster(component[0]) or ord(component[-1]) in PREPEND:
            return "path component starts with a combining character"
    return None


def case_key(path):
    """§7.1 (7): NFC, then the full Unicode lower-case mapping."""
    return unicodedata.normalize("NFC", path).lower()


def valid_pack_name(name):
    return isinstance(name, str) and NAME_RE.match(name) is not None


# ---------------------------------------------------------------------------------------
# §2.1 container: zstd frames, read with the zstd program


class PackFile:
    """The pack's bytes: a regular file (a pipe is spooled to a temporary file first)."""

    def __init__(self, path, spool_dir):
        self.display = path
        self.seekable = path != "-"
        if path == "-":
            fd, self.path = tempfile.mkstemp(dir=spool_dir, suffix=".mlpack")
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        else:
            self.path = path
        try:
            self.file = open(self.path, "rb")
            self.size = os.fstat(self.file.fileno()).st_size
        except OSError as error:
            raise Unusable(f"{path}: {error.strerror}")
        if not os.path.isfile(self.path):
            raise Unusable(f"{path}: not a regular file")

    def read_at(self, offset, count):
        self.file.seek(offset)
        return self.file.read(count)

    def u32(self, offset):
        data = self.read_at(offset, 4)
        return int.from_bytes(data, "little") if len(data) == 4 else None


def frame_length(pack, start):
    """Walks one zstd frame's header and block headers (RFC 8878 §3.1.1): its length in the
    file. Rejects what §2.1 forbids: no content checksum, a window over 2^24."""
    end = pack.size
    truncated = Invalid(pack.display, f"the pack is truncated (the compressed stream ends at byte {end})")
    header = pack.read_at(start, 6)
    if len(header) < 6:
        raise truncated
    descriptor = header[4]
    fcs_flag, single, reserved = descriptor >> 6, (descriptor >> 5) & 1, (descriptor >> 3) & 1
    checksum, dict_flag = (descriptor >> 2) & 1, descriptor & 3
    if reserved:
        raise Invalid(pack.display, f"a zstd frame with a reserved header bit set (byte {start})")
    position = start + 5
    window = None
    if not single:
        exponent, mantissa = header[5] >> 3, header[5] & 7
        base = 1 << (10 + exponent)
        window = base + (base >> 3) * mantissa
        position += 1
    if dict_flag:
        raise Invalid(pack.display, f"a zstd frame that needs a dictionary (byte {start})")
    fcs_size = [1 if single else 0, 2, 4, 8][fcs_flag]
    fcs_bytes = pack.read_at(position, fcs_size)
    if len(fcs_bytes) < fcs_size:
        raise truncated
    position += fcs_size
    if single:
        window = int.from_bytes(fcs_bytes, "little") + (256 if fcs_size == 2 else 0)
    if window > MAX_WINDOW:
        raise Invalid(pack.display, f"a zstd frame whose window exceeds 2^24 bytes (byte {start})")
    if not checksum:
        raise Invalid(pack.display, f"a zstd frame without a content checksum (byte {start})")
    while True:
        block = pack.read_at(position, 3)
        if len(block) < 3:
            raise truncated
        value = int.from_bytes(block, "little")
        last, kind, size = value & 1, (value >> 1) & 3, value >> 3
        if kind == 3:
            raise Invalid(pack.display, f"a zstd block of reserved type (byte {position})")
        position += 3 + (1 if kind == 1 else size)
        if position > end:
            raise truncated
        if last:
            break
    position += 4
    if position > end:
        raise truncated
    return position - start


class Frames:
    """Walks the file's frames front to back and decompresses each data frame with zstd,
    enforcing the size and expansion limits while the bytes come out."""

    def __init__(self, pack, limits):
        self.pack, self.limits = pack, limits
        self.frames = []  # (compressedOffset, uncompressedOffset) of each data frame
        self.index_frame = None  # (offset, length) of the trailing skippable frame
        self.produced = 0

    def chunks(self):
        pack, position = self.pack, 0
        if pack.size < 4 or pack.u32(0) != ZSTD_MAGIC:
            raise Unusable(f"{pack.display}: not an mlpack file (it does not start with a zstd frame)")
        while position < pack.size:
            magic = pack.u32(position)
            if magic is None:
                raise Invalid(pack.display, f"the pack is truncated (the compressed stream ends at byte {pack.size})")
            if magic & 0xFFFFFFF0 == 0x184D2A50:
                length = pack.u32(position + 4)
                if length is None or position + 8 + length > pack.size:
                    raise Invalid(pack.display, f"the pack is truncated (a skippable frame at byte {position} runs past the end)")
                if position + 8 + length != pack.size:
                    raise Invalid(pack.display, f"a skippable frame before the end of the pack (byte {position})")
                self.index_frame = (position, 8 + length)
                return
            if magic != ZSTD_MAGIC:
                raise Invalid(pack.display, f"not a zstd frame at byte {position}")
            length = frame_length(pack, position)
            self.frames.append((position, self.produced))
            yield from self.decompress(position, length)
            position += length

    def decompress(self, start, length):
        """One frame through `zstd -d` (which checks the content checksum); windowLogMax 24."""
        limits, pack = self.limits, self.pack
        errors = tempfile.TemporaryFile()
        process = subprocess.Popen(["zstd", "-q", "-d", "-c", "--memory=16MB"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=errors)

        def feed():
            try:
                with open(pack.path, "rb") as source:
                    source.seek(start)
                    left = length
                    while left:
                        chunk = source.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        process.stdin.write(chunk)
                        left -= len(chunk)
            except (BrokenPipeError, OSError):
                pass
            finally:
                try:
                    process.stdin.close()
                except OSError:
                    pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            while True:
                chunk = process.stdout.read1(1 << 20)
                if not chunk:
                    break
                self.produced += len(chunk)
                if self.produced > limits.max_total_size:
                    raise Limit("total-size", f"the pack expands to more than {limits.max_total_size} bytes",
                                "--max-total-size")
                consumed = start + length
                if self.produced > RATIO_AFTER and self.produced > limits.max_expansion_ratio * consumed:
                    raise Limit("expansion-ratio", f"the pack inflates more than {limits.max_expansion_ratio:g}x"
                                " (a decompression bomb?)", "--max-expansion-ratio")
                yield chunk
            status = process.wait()
            feeder.join()
            if status != 0:
                errors.seek(0)
                why = errors.read().decode("utf-8", "replace").strip().splitlines()
                why = why[-1] if why else f"zstd exited with status {status}"
                raise Invalid(pack.display, f"the zstd frame at byte {start} does not decompress ({why})")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
            errors.close()


class Stream:
    """Reads exact byte counts from a chunk generator, keeping the offset."""

    def __init__(self, chunks):
        self.chunks, self.buffer, self.offset = chunks, bytearray(), 0

    def read(self, count):
        while len(self.buffer) < count:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        self.offset += len(data)
        return data

    def read_some(self, most):
        """Up to `most` bytes, at least one unless the stream ended."""
        if not self.buffer:
            chunk = next(self.chunks, None)
            if chunk is None:
                return b""
            self.buffer += chunk
        data = bytes(self.buffer[:most])
        del self.buffer[:most]
        self.offset += len(data)
        return data


# ---------------------------------------------------------------------------------------
# §2.3 tar, one dialect, every header block checked


def octal(field):
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if not all(0x30 <= byte <= 0x37 for byte in text):
        return None
    return int(text, 8)


def checksum_ok(block):
    stored = octal(block[148:156])
    counted = block[:148] + b" " * 8 + block[156:]
    unsigned = sum(counted)
    signed = sum(byte - 256 if byte > 127 else byte for byte in counted)
    return stored is not None and stored in (unsigned, signed)


TYPE_NAMES = {b"2": "symbolic link", b"3": "character device", b"4": "block device",
              b"5": "directory entry (packs hold files only)", b"6": "fifo",
              b"7": "contiguous file", b"g": "pax global header (g): tar readers apply it differently",
              b"L": "GNU long-name header", b"K": "GNU long-link header", b"S": "GNU sparse file",
              b"\0": "pre-POSIX file header (type NUL)"}


def parse_pax(data, where):
    """`LENGTH KEY=VALUE\\n` records: only path, linkpath and size, each at most once."""
    records, position = {}, 0
    while position < len(data):
        space = data.find(b" ", position)
        digits = data[position:space] if space > 0 else b""
        if not digits.isdigit():
            raise Invalid(where, "rejected: malformed pax record")
        length = int(digits)
        record = data[position:position + length]
        if length <= len(digits) + 1 or len(record) != length or not record.endswith(b"\n"):
            raise Invalid(where, "rejected: malformed pax record")
        key, equals, value = record[len(digits) + 1:-1].partition(b"=")
        if not equals:
            raise Invalid(where, "rejected: malformed pax record")
        keyword = key.decode("utf-8", "replace")
        if keyword not in ("path", "linkpath", "size"):
            raise Invalid(where, f"rejected: pax keyword '{shown(keyword)}' (only path, linkpath and size)")
        if keyword in records:
            raise Invalid(where, f"rejected: pax keyword '{keyword}' twice")
        records[keyword] = value
        position += length
    return records


class Entry:
    def __init__(self, path, kind, mode, size, header_offset, data_offset, link=None):
        self.path, self.kind, self.mode, self.size = path, kind, mode, size
        self.header_offset, self.data_offset, self.link = header_offset, data_offset, link
        self.sha256 = None
        self.data = None  # the bytes of metadata files
        self.captured = None


def read_header(stream, limits):
    """One entry's header blocks (a pax header, then a `0` or `1` header), every block checked
    against §2.3. Returns (Entry or None at the end-of-archive marker, raw name bytes)."""
    pax = None
    header_offset = stream.offset
    while True:
        offset = stream.offset
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            raise Invalid("pack", "the tar archive ends without its end-of-archive marker")
        if block == ZERO_BLOCK:
            if pax is not None:
                raise Invalid(f"pax header at byte {header_offset}", "rejected: a pax header followed by a zero block")
            second = stream.read(BLOCK)
            if second != ZERO_BLOCK:
                raise Invalid(f"tar header at byte {offset}",
                              "rejected: a lone zero block inside the archive (tar readers stop there or not)")
            return None
        if not checksum_ok(block):
            raise Invalid(f"tar header at byte {offset}", "rejected: bad header checksum")
        name, prefix = block[0:100].split(b"\0", 1)[0], block[345:500].split(b"\0", 1)[0]
        raw_name = prefix + b"/" + name if prefix else name
        kind = block[156:157]
        label = shown(raw_name)
        if kind in TYPE_NAMES:
            raise Invalid(label, "rejected: " + TYPE_NAMES[kind])
        if kind not in (b"0", b"1", b"x"):
            raise Invalid(label, f"rejected: tar entry type '{shown(kind.decode('latin-1'))}'")
        if block[257:263] != b"ustar\0" or block[263:265] != b"00":
            raise Invalid(label, "rejected: not a POSIX ustar header (GNU or pre-POSIX tar format)")
        size = octal(block[124:136])
        if size is None:
            raise Invalid(label, "rejected: malformed size field")
        if kind == b"x":
            if pax is not None:
                raise Invalid(f"pax header at byte {offset}", "rejected: a pax header followed by another")
            if size > MAX_PAX:
                raise Invalid(f"pax header at byte {offset}", "rejected: pax header larger than 16 KiB")
            data = stream.read(size)
            stream.read(-size % BLOCK)
            if len(data) < size:
                raise Invalid("pack", "the tar archive ends inside a pax header")
            pax = parse_pax(data, f"pax header at byte {offset}")
            continue
        # A `0` or `1` header: the entry itself.
        if "path" in (pax or {}):
            raw_name = pax["path"]
            label = shown(raw_name)
        uid, gid = octal(block[108:116]), octal(block[116:124])
        if uid != 0 or gid != 0 or block[265:297].strip(b"\0") or block[297:329].strip(b"\0"):
            raise Invalid(label, "rejected: owner other than uid 0, gid 0 and empty names")
        mode = octal(block[100:108])
        if "size" in (pax or {}):
            if not pax["size"].isdigit():
                raise Invalid(label, "rejected: malformed pax size")
            size = int(pax["size"])
        link = None
        if kind == b"1":
            raw_link = pax.get("linkpath") if pax and "linkpath" in pax else block[157:257].split(b"\0", 1)[0]
            link = raw_link
        elif pax and "linkpath" in pax:
            raise Invalid(label, "rejected: pax linkpath on a file that is not a hard link")
        entry = Entry(raw_name, kind, mode, size, header_offset, stream.offset, link)
        return entry


def decode_path(raw, label):
    try:
        path = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(label, "rejected: path is not valid UTF-8")
    problem = path_problem(path)
    if problem:
        raise Invalid(label, "rejected: " + problem)
    return path


def is_metadata(relative):
    """Files read into memory (§8): tag files, the card, the RO-Crate view, run records and
    data references (their roles are not known yet, so by path)."""
    return (not relative.startswith("data/") or relative in (CARD, RO_CRATE)
            or relative.startswith(("data/runs/", "data/refs/")) and relative.endswith(".json"))


class Scan:
    """What a sequential scan of the whole tar stream saw."""

    def __init__(self):
        self.entries = []  # Entry in archive order, paths relative to the top directory
        self.by_path = {}
        self.top = None
        self.tar_size = 0


def scan(pack, limits, capture=None):
    """Reads every entry of the tar stream, applying §2.3, §7 and §8 to each before using it.
    `capture` (an archive path relative to the top directory) is spooled to a temporary file."""
    frames = Frames(pack, limits)
    stream = Stream(frames.chunks())
    result = Scan()
    folded = {}
    names_total = 0
    captured = None
    while True:
        entry = read_header(stream, limits)
        if entry is None:
            break
        label = shown(entry.path)
        path = decode_path(entry.path, label)
        top, slash, relative = path.partition("/")
        if result.top is None:
            if not slash:
                raise Invalid(label, "rejected: not below a top-level directory")
            if not valid_pack_name(top):
                raise Invalid(label, "rejected: the top-level directory is not a valid pack name")
            result.top = top
        elif top != result.top or not slash:
            raise Invalid(label, f"rejected: second top-level directory (the first is {result.top})")
        if entry.mode not in (0o644, 0o755):
            shown_mode = "?" if entry.mode is None else f"{entry.mode:o}"
            raise Invalid(label, f"rejected: mode {shown_mode} (only 644 and 755 are allowed)")
        if relative in result.by_path:
            raise Invalid(label, "rejected: duplicate entry")
        key = case_key(relative)
        if key in folded:
            raise Invalid(label, f"rejected: name differs only by case from {folded[key]}")
        folded[key] = relative
        if len(result.entries) + 1 > limits.max_entries:
            raise Limit("entries", f"the pack holds more than {limits.max_entries} entries", "--max-entries")
        names_total += len(entry.path)
        if names_total > limits.max_metadata_size:
            raise Limit("metadata-size", f"the entry names total more than {limits.max_metadata_size} bytes",
                        "--max-metadata-size")
        entry.path = relative
        if not relative.startswith("data/") and relative not in TAG_FILES:
            raise Invalid(relative, "unexpected file outside data/")
        if entry.kind == b"1":
            if entry.size != 0:
                raise Invalid(label, "rejected: hard link with a non-zero size")
            target_label = shown(entry.link)
            try:
                target_path = entry.link.decode("utf-8")
            except UnicodeDecodeError:
                target_path = None
            target_top, _, target = (target_path or "").partition("/")
            target_entry = result.by_path.get(target) if target_top == result.top else None
            if target_path is None or path_problem(target_path) or target_entry is None or target_entry.kind != b"0":
                raise Invalid(label, f"rejected: hard link to {target_label}, which is not an earlier file of the pack")
            entry.link = target
            entry.sha256, entry.size = target_entry.sha256, target_entry.size
            entry.data_offset = target_entry.data_offset
            entry.data = target_entry.data
            if capture == relative:
                captured = target_entry.captured
            entry.captured = None
        else:
            if is_metadata(relative) and entry.size > limits.max_metadata_size:
                raise Limit("metadata-size", f"{relative} is {entry.size} bytes", "--max-metadata-size")
            digest = hashlib.sha256()
            keep = bytearray() if is_metadata(relative) else None
            spool = tempfile.NamedTemporaryFile(delete=False) if capture == relative else None
            left = entry.size
            while left:
                chunk = stream.read_some(min(left, 1 << 20))
                if not chunk:
                    raise Invalid(label, f"rejected: the data ends {left} bytes before its declared size")
                digest.update(chunk)
                if keep is not None:
                    keep += chunk
                if spool:
                    spool.write(chunk)
                left -= len(chunk)
            padding = stream.read(-entry.size % BLOCK)
            if len(padding) != -entry.size % BLOCK:
                raise Invalid(label, "rejected: the data ends before its padding")
            entry.sha256 = digest.hexdigest()
            entry.data = bytes(keep) if keep is not None else None
            entry.captured = spool.name if spool else None
            if spool:
                spool.close()
                captured = spool.name
        result.entries.append(entry)
        result.by_path[relative] = entry
    # After the end-of-archive marker, only zero bytes (§2.3, §6.1 (2)).
    while True:
        chunk = stream.read_some(1 << 20)
        if not chunk:
            break
        if chunk.count(0) != len(chunk):
            raise Invalid("pack", "data after the end of the tar archive")
    result.tar_size = stream.offset
    result.frames = frames.frames
    result.index_frame = frames.index_frame
    result.captured = captured
    if result.top is None:
        raise Invalid("pack", "the tar archive holds no entries")
    return result


# ---------------------------------------------------------------------------------------
# §5 manifest and disclosures


def parse_manifest(data, entry):
    try:
        manifest = parse_json(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Invalid(entry, "not a valid manifest (malformed JSON)")
    if not isinstance(manifest, dict):
        raise Invalid(entry, "not a valid manifest (not a JSON object)")
    if manifest.get("format") != "mlpack":
        raise Invalid(entry, "not a valid manifest (format is not \"mlpack\")")
    version = manifest.get("formatVersion")
    if version != 1 or type(version) is not int:
        raise Invalid(entry, f"unsupported format version {json.dumps(version)} (this reader reads version 1)")
    known = {"format", "formatVersion", "packId", "name", "created", "digestAlgorithm", "signer", "items",
             "derivedFrom"}
    for key in manifest:
        if key not in known:
            raise Invalid(entry, f"not a valid manifest (unknown field {json.dumps(key)})")
    if not isinstance(manifest.get("packId"), str) or not re.fullmatch(r"[0-9a-f]{32}", manifest["packId"]):
        raise Invalid(entry, "not a valid manifest (packId is not 32 lower-case hex digits)")
    if not valid_pack_name(manifest.get("name")):
        raise Invalid(entry, "not a valid manifest (name is not a valid pack name)")
    if not isinstance(manifest.get("created"), str) or not CREATED_RE.match(manifest["created"]):
        raise Invalid(entry, "not a valid manifest (created is not an RFC 3339 UTC time in whole seconds)")
    if manifest.get("digestAlgorithm") != "sha-256":
        raise Invalid(entry, "not a valid manifest (digestAlgorithm is not sha-256)")
    items = manifest.get("items")
    if not isinstance(items, list):
        raise Invalid(entry, "not a valid manifest (items is not an array)")
    for item in items:
        if not isinstance(item, str) or not DIGEST_RE.match(item):
            raise Invalid(entry, f"item digest {json.dumps(item)} is not 32 bytes of base64url")
    if any(items[i].encode() >= items[i + 1].encode() for i in range(len(items) - 1)):
        raise Invalid(entry, "not a valid manifest (items are not sorted and unique)")
    if "signer" in manifest:
        signer = manifest["signer"]
        if (not isinstance(signer, dict) or set(signer) != {"keyId", "publicKey"}
                or not isinstance(signer["keyId"], str) or not re.fullmatch(r"[0-9A-F]{16}", signer["keyId"])
                or not isinstance(signer["publicKey"], str)
                or not re.fullmatch(r"[A-Za-z0-9+/]{56}", signer["publicKey"])):
            raise Invalid(entry, "not a valid manifest (signer)")
    if "derivedFrom" in manifest:
        if not isinstance(manifest["derivedFrom"], str) or not HEX64_RE.match(manifest["derivedFrom"]):
            raise Invalid(entry, "not a valid manifest (derivedFrom is not 64 lower-case hex digits)")
    return manifest


class Item:
    def __init__(self, disclosure, salt, path, role, size, sha256, mode):
        self.disclosure, self.salt, self.path, self.role = disclosure, salt, path, role
        self.size, self.sha256, self.mode = size, sha256, mode
        self.digest = b64url(hashlib.sha256(disclosure.encode("ascii")).digest())

    def facts(self):
        return (self.path, self.role, self.size, self.sha256, self.mode)


def parse_disclosures(data, entry, manifest_items, manifest_name):
    try:
        document = parse_json(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Invalid(entry, "not valid JSON")
    if not isinstance(document, dict) or set(document) != {"disclosures"} or not isinstance(
            document["disclosures"], list):
        raise Invalid(entry, "expected {\"disclosures\": [...]}")
    items, digests, folded = [], set(), {}
    allowed = set(manifest_items)
    for number, disclosure in enumerate(document["disclosures"], 1):
        where = f"disclosure #{number}"
        raw = b64url_decode(disclosure)
        if raw is None:
            raise Invalid(entry, f"{where}: disclosure is not unpadded base64url")
        try:
            fields = parse_json(raw)
        except (UnicodeDecodeError, ValueError, RecursionError):
            fields = None
        if not isinstance(fields, list) or len(fields) != 6:
            raise Invalid(entry, f"{where}: malformed disclosure: expected [salt, path, role, size, sha256, mode]")
        salt, path, role, size, sha256, mode = fields
        salt_bytes = b64url_decode(salt) if isinstance(salt, str) else None
        if salt_bytes is None or len(salt_bytes) != 32:
            raise Invalid(entry, f"{where}: malformed disclosure: the salt is not 32 bytes of unpadded base64url")
        if not isinstance(path, str) or path_problem(path):
            problem = path_problem(path) if isinstance(path, str) else "not a string"
            raise Invalid(entry, f"{where}: malformed disclosure: bad path ({problem})")
        if not isinstance(role, str) or role not in ROLES:
            raise Invalid(entry, f"{where}: malformed disclosure: unknown role {json.dumps(role)}")
        if not is_int(size):
            raise Invalid(entry, f"{where}: malformed disclosure: size is not an integer ≥ 0")
        if not isinstance(sha256, str) or not HEX64_RE.match(sha256):
            raise Invalid(entry, f"{where}: malformed disclosure: sha256 is not 64 lower-case hex digits")
        if type(mode) is not int or mode not in (420, 493):
            raise Invalid(entry, f"{where}: malformed disclosure: mode is not 420 or 493")
        if len(("data/" + path).encode()) + len(manifest_name) + 1 > 4096:
            raise Invalid(entry, f"{where}: malformed disclosure: bad path (path longer than 4096 bytes)")
        item = Item(disclosure, salt, path, role, size, sha256, mode)
        if item.digest not in allowed:
            raise Invalid(entry, f"the disclosure of data/{path} is not in the manifest")
        if item.digest in digests or case_key(path) in folded:
            raise Invalid(entry, f"data/{path} is disclosed twice")
        digests.add(item.digest)
        folded[case_key(path)] = path
        items.append(item)
    return items


# ---------------------------------------------------------------------------------------
# §6.2 BagIt and §6.3 RO-Crate views


def payload_manifest(lines):
    return "".join(f"{sha}  {path}\n" for path, sha in sorted(lines, key=lambda pair: pair[0].encode())).encode()


def percent_encode(path):
    safe = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")
    return "".join(chr(byte) if byte in safe else f"%{byte:02X}" for byte in path.encode("utf-8"))


def check_ro_crate(data, manifest, items):
    """§6.3, checked semantically: the facts the view states about the pack."""
    def wrong(problem):
        return Invalid(RO_CRATE, f"does not match the pack's items (RO-Crate view tampered with: {problem})")

    try:
        crate = parse_json(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise wrong("not valid JSON")
    if not isinstance(crate, dict) or "@context" not in crate or not isinstance(crate.get("@graph"), list):
        raise wrong("no @context and @graph")
    entities = {}
    for entity in crate["@graph"]:
        if not isinstance(entity, dict) or not isinstance(entity.get("@id"), str):
            raise wrong("an entity without an @id")
        if entity["@id"] in entities:
            raise wrong(f"@id {entity['@id']} twice")
        entities[entity["@id"]] = entity

    def types(entity):
        kind = entity.get("@type")
        return set(kind) if isinstance(kind, list) else {kind}

    def references(value):
        values = value if isinstance(value, list) else [value]
        return {v.get("@id") for v in values if isinstance(v, dict)}

    descriptor = entities.get("ro-crate-metadata.json")
    if descriptor is None or references(descriptor.get("about")) != {"./"}:
        raise wrong("no metadata descriptor about ./")
    root = entities.get("./")
    if root is None or "Dataset" not in types(root):
        raise wrong("no root dataset ./")
    if root.get("name") != manifest["name"]:
        raise wrong("the root's name is not the pack's")
    if root.get("datePublished") != manifest["created"]:
        raise wrong("the root's datePublished is not the pack's created time")
    parts = references(root.get("hasPart"))
    present = {}
    for item in items:
        identifier = percent_encode(item.path)
        present[identifier] = item
        entity = entities.get(identifier)
        if entity is None or "File" not in types(entity):
            raise wrong(f"no File entity for {item.path}")
        if entity.get("contentSize") != str(item.size) or entity.get("sha256") != item.sha256:
            raise wrong(f"{item.path} has another size or sha256")
        if identifier not in parts:
            raise wrong(f"the root's hasPart lacks {item.path}")
    for identifier in sorted(entities):
        if identifier.startswith("#") or identifier.endswith("/") or identifier == "ro-crate-metadata.json":
            continue
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", identifier):
            continue  # an absolute URI (the profile, a licence)
        if identifier not in present:
            raise wrong(f"entity {identifier} is not an item of the pack")


def check_bagit(scan_result, manifest, items):
    files = scan_result.by_path
    crate = files[RO_CRATE]
    payload = [("data/" + item.path, item.sha256) for item in items] + [(RO_CRATE, crate.sha256)]
    oxum_bytes = sum(item.size for item in items) + crate.size
    bag_info = ("Bag-Software-Agent: mlpack (format 1)\n"
                f"Bagging-Date: {manifest['created'][:10]}\n"
                f"External-Identifier: {manifest['packId']}\n"
                f"Payload-Oxum: {oxum_bytes}.{len(items) + 1}\n").encode()
    for path, expected in (("bagit.txt", BAGIT_DECLARATION), ("bag-info.txt", bag_info),
                           ("manifest-sha256.txt", payload_manifest(payload))):
        if files[path].data != expected:
            raise Invalid(path, "does not match the pack's items (BagIt view tampered with)")
    tagged = [(path, files[path].sha256) for path in TAG_FILES if path != "tagmanifest-sha256.txt" and path in files]
    if files["tagmanifest-sha256.txt"].data != payload_manifest(tagged):
        raise Invalid("tagmanifest-sha256.txt", "does not match the tag files (BagIt view tampered with)")


# ---------------------------------------------------------------------------------------
# §10 signature


def parse_public_key(text, where):
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != 42 or raw[:2] != b"Ed":
        raise Invalid(where, "not a minisign public key")
    return raw[2:10], raw[10:]


def key_id_text(key_id):
    return key_id[::-1].hex().upper()


def check_signature(manifest, manifest_bytes, signature_bytes, where_manifest, where_signature, work):
    """§10 steps 1-3. Returns None for an unsigned manifest, else (key id, public key text)."""
    signer = manifest.get("signer")
    if signer is None and signature_bytes is None:
        return None
    if signer is None:
        raise Invalid(where_signature, "present, but the manifest names no signer")
    if signature_bytes is None:
        raise Invalid(where_signature, f"missing: the manifest is signed by key {signer['keyId']}")
    key_id, _ = parse_public_key(signer["publicKey"], where_manifest)
    if key_id_text(key_id) != signer["keyId"]:
        raise Invalid(where_manifest, f"signer.keyId {signer['keyId']} is not the id of signer.publicKey "
                                      f"({key_id_text(key_id)})")
    lines = signature_bytes.split(b"\n")
    malformed = Invalid(where_signature, "not a minisign signature file")
    if len(lines) != 5 or lines[4] != b"" or not lines[0].startswith(b"untrusted comment: ") \
            or not lines[2].startswith(b"trusted comment: "):
        raise malformed
    try:
        signature = base64.b64decode(lines[1], validate=True)
        global_signature = base64.b64decode(lines[3], validate=True)
    except ValueError:
        raise malformed
    if len(signature) != 74 or signature[:2] not in (b"ED", b"Ed") or len(global_signature) != 64:
        raise malformed
    if signature[2:10] != key_id:
        raise Invalid(where_signature, f"made with key {key_id_text(signature[2:10])}, not with the signer's key "
                                       f"{signer['keyId']}")
    folder = tempfile.mkdtemp(dir=work)
    message, sig_file = os.path.join(folder, "manifest.json"), os.path.join(folder, "manifest.json.minisig")
    with open(message, "wb") as out:
        out.write(manifest_bytes)
    with open(sig_file, "wb") as out:
        out.write(signature_bytes)
    try:
        checked = subprocess.run(["minisign", "-V", "-q", "-P", signer["publicKey"], "-m", message, "-x", sig_file],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except OSError as error:
        raise Unusable(f"minisign: {error.strerror} (spec/verify.py needs the minisign program)")
    if checked.returncode != 0:
        raise Invalid(where_signature, "does not verify: the manifest or the signature was changed after signing")
    return signer["keyId"], signer["publicKey"]


def load_trusted_keys(keys, keyring):
    """--key (a .pub file or a public-key line) and the keyring's *.pub files."""
    trusted = []

    def add(text, where):
        lines = [line for line in text.splitlines() if line.strip()]
        candidates = [line for line in lines if not line.startswith("untrusted comment:")]
        if len(candidates) != 1:
            raise Unusable(f"{where}: not a minisign public key")
        try:
            trusted.append(parse_public_key(candidates[0], where))
        except Invalid:
            raise Unusable(f"{where}: not a minisign public key")

    for key in keys:
        if os.path.exists(key):
            try:
                with open(key, encoding="utf-8") as source:
                    add(source.read(4096), f"--key {key}")
            except (OSError, UnicodeDecodeError) as error:
                raise Unusable(f"--key {key}: {getattr(error, 'strerror', None) or 'not readable'}")
        else:
            add(key, f"--key {key}")
    explicit = keyring is not None
    if keyring is None:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        keyring = os.path.join(base, "mlpack", "trusted")
    if os.path.isdir(keyring):
        for name in sorted(os.listdir(keyring)):
            if name.endswith(".pub"):
                path = os.path.join(keyring, name)
                try:
                    with open(path, encoding="utf-8") as source:
                        add(source.read(4096), path)
                except (OSError, UnicodeDecodeError):
                    raise Unusable(f"{path}: not readable")
    elif explicit:
        raise Unusable(f"--keyring {keyring}: not a directory")
    return trusted


# ---------------------------------------------------------------------------------------
# §3 seek index


def read_index(pack, limits):
    """The trailing index frame's JSON, or (None, why)."""
    if pack.size < 24:
        return None, "absent"
    tail = pack.read_at(pack.size - 16, 16)
    if tail[8:] != b"MLPKINDX":
        return None, "absent"
    length = int.from_bytes(tail[0:4], "little")
    if int.from_bytes(tail[4:8], "little") != 1:
        return None, "damaged: unknown trailer version"
    start = pack.size - 16 - length - 8
    if start < 0:
        return None, "damaged: the index length runs past the start of the file"
    if length > limits.max_metadata_size:
        return None, f"damaged: the index is {length} bytes (over --max-metadata-size)"
    if pack.u32(start) != INDEX_MAGIC or pack.u32(start + 4) != length + 16:
        return None, "damaged: the skippable frame header does not match the footer"
    try:
        index = parse_json(pack.read_at(start + 8, length))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "damaged: index is not valid JSON"
    problem = index_shape_problem(index)
    if problem:
        return None, "damaged: " + problem
    index["_start"] = start
    return index, "present"


def index_shape_problem(index):
    if not isinstance(index, dict) or index.get("version") != 1 or not is_int(index.get("tarSize")):
        return "not a version 1 index"
    frames, entries = index.get("frames"), index.get("entries")
    if not isinstance(frames, list) or not isinstance(entries, list) or not frames:
        return "no frames or entries"
    previous = None
    for frame in frames:
        if not isinstance(frame, dict) or not is_int(frame.get("compressedOffset")) \
                or not is_int(frame.get("uncompressedOffset")):
            return "a malformed frame"
        pair = (frame["compressedOffset"], frame["uncompressedOffset"])
        if previous is None and pair != (0, 0) or previous and (pair[0] <= previous[0] or pair[1] <= previous[1]):
            return "frame offsets do not increase from 0/0"
        previous = pair
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) \
                or not all(is_int(entry.get(key)) for key in ("headerOffset", "dataOffset", "size")) \
                or ("hardlinkTarget" in entry and not isinstance(entry["hardlinkTarget"], str)):
            return "a malformed entry"
    return None


def compare_index(index, scan_result):
    """§6.1: the index is compared with what the scan saw (reported, never a verdict)."""
    frames = [{"compressedOffset": c, "uncompressedOffset": u} for c, u in scan_result.frames]
    if [{k: f[k] for k in ("compressedOffset", "uncompressedOffset")} for f in index["frames"]] != frames:
        return "damaged: frames disagree with the file"
    if index["tarSize"] != scan_result.tar_size:
        return "damaged: tarSize disagrees with the archive"
    expected = []
    for entry in scan_result.entries:
        row = {"path": scan_result.top + "/" + entry.path, "headerOffset": entry.header_offset,
               "dataOffset": entry.data_offset, "size": entry.size}
        if entry.kind == b"1":
            row["hardlinkTarget"] = scan_result.top + "/" + entry.link
        expected.append(row)
    if index["entries"] != expected:
        return "damaged: entries disagree with the archive"
    return "valid"


# ---------------------------------------------------------------------------------------
# Verification (§6.1)


def check_manifest_and_files(scan_result, trusted, work):
    """§6.1 (3)-(8) on a full scan, in the order §6.1 gives.
    Returns (manifest, items, withheld, signer, coverage)."""
    files = scan_result.by_path
    for required in (MANIFEST, DISCLOSURES):
        if required not in files:
            raise Invalid(required, "missing")
    manifest_bytes = files[MANIFEST].data
    manifest = parse_manifest(manifest_bytes, MANIFEST)
    signature = files[SIGNATURE].data if SIGNATURE in files else None
    signer = check_signature(manifest, manifest_bytes, signature, MANIFEST, SIGNATURE, work)
    items = parse_disclosures(files[DISCLOSURES].data, DISCLOSURES, manifest["items"], manifest["name"])
    coverage = check_derived(scan_result, manifest, items, work) if "derivedFrom" in manifest else None
    trusted_signer(signer, trusted)
    by_item_path = {item.path: item for item in items}
    for required in sorted(REQUIRED_TAG_FILES):
        if required not in files:
            raise Invalid(required, "missing")
    for entry in scan_result.entries:
        if entry.path == RO_CRATE or not entry.path.startswith("data/"):
            continue
        item = by_item_path.get(entry.path[5:])
        if item is None:
            raise Invalid(entry.path, "not in the pack's disclosures")
        if item.size != entry.size:
            raise Invalid(entry.path, f"size {entry.size} differs from the disclosed {item.size}")
        if item.sha256 != entry.sha256:
            raise Invalid(entry.path, "sha256 differs from its disclosure (content was changed)")
        if item.mode != entry.mode:
            raise Invalid(entry.path, f"mode {entry.mode:o} differs from the disclosed {item.mode:o}")
    for entry in scan_result.entries:
        if entry.kind == b"1" and files[entry.link].mode != entry.mode:
            raise Invalid(entry.path, f"hard link with mode {entry.mode:o}, but its target has "
                                      f"{files[entry.link].mode:o}")
    for item in sorted(items, key=lambda i: i.path.encode()):
        if "data/" + item.path not in files:
            raise Invalid("data/" + item.path, "disclosed but missing from the archive")
    if CARD[5:] not in by_item_path:
        raise Invalid(CARD, "missing (every pack has a card)")
    if RO_CRATE not in files:
        raise Invalid(RO_CRATE, "missing")
    check_ro_crate(files[RO_CRATE].data, manifest, items)
    check_bagit(scan_result, manifest, items)
    if scan_result.top != manifest["name"]:
        raise Invalid(scan_result.top, f"top-level directory differs from the manifest's name {manifest['name']}")
    originals = [entry.path for entry in scan_result.entries if entry.path.startswith("mlpack/original/")]
    if "derivedFrom" not in manifest and originals:
        raise Invalid(originals[0], "in a pack that is not derived (no derivedFrom)")
    withheld = len(manifest["items"]) - len(items)
    return manifest, items, withheld, signer, coverage


def check_derived(scan_result, manifest, items, work):
    """§10.1: the author's manifest, signature and disclosures kept under mlpack/original/."""
    files = scan_result.by_path
    for required in (ORIGINAL_MANIFEST, ORIGINAL_DISCLOSURES):
        if required not in files:
            raise Invalid(required, "missing in a derived pack")
    original_bytes = files[ORIGINAL_MANIFEST].data
    if sha256_hex(original_bytes) != manifest["derivedFrom"]:
        raise Invalid(ORIGINAL_MANIFEST, "is not the manifest derivedFrom names")
    original = parse_manifest(original_bytes, ORIGINAL_MANIFEST)
    signature = files[ORIGINAL_SIGNATURE].data if ORIGINAL_SIGNATURE in files else None
    author = check_signature(original, original_bytes, signature, ORIGINAL_MANIFEST, ORIGINAL_SIGNATURE, work)
    original_items = parse_disclosures(files[ORIGINAL_DISCLOSURES].data, ORIGINAL_DISCLOSURES,
                                       original["items"], original["name"])
    present = {item.facts(): item for item in items}
    covered = set()
    for original_item in original_items:
        item = present.get(original_item.facts())
        if item is None:
            raise Invalid(ORIGINAL_DISCLOSURES, f"the author's disclosure of data/{original_item.path} matches "
                                                "no item of the pack")
        covered.add(item.path)
    return author, covered


def trusted_signer(signer, trusted):
    """§10 step 4: True when a trusted key has the signer's id and bytes; the same id with
    other bytes is invalid."""
    if signer is None:
        return False
    raw_id, raw_key = parse_public_key(signer[1], MANIFEST)
    same_id = [key for key in trusted if key[0] == raw_id]
    if same_id and not any(key[1] == raw_key for key in same_id):
        raise Invalid(SIGNATURE, f"key id {signer[0]} is trusted, but with a different public key")
    return bool(same_id)


def verify(pack, limits, trusted, allow_unsigned, work, capture=None):
    """Full verification. Returns (exit code, report lines, captured file or None)."""
    scan_result = scan(pack, limits, capture)
    manifest, items, withheld, signer, coverage = check_manifest_and_files(scan_result, trusted, work)
    if not pack.seekable:
        index_state = "not read (standard input is read sequentially)"
    else:
        index, state = read_index(pack, limits)
        index_state = compare_index(index, scan_result) if index is not None else state
    title = None
    try:
        card = parse_json(scan_result.by_path[CARD].data)
        title = card.get("title") if isinstance(card, dict) and isinstance(card.get("title"), str) else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        pass
    lines = [f"  name        {manifest['name']}" + (f" — {shown(title)}" if title else ""),
             f"  created     {manifest['created']}",
             f"  items       {len(items)} ({sum(item.size for item in items)} bytes), every sha256 checked"]
    if withheld:
        lines.append(f"  withheld    {withheld} items withheld")
    status = EXIT_VERIFIED
    if signer is None:
        lines.append("  signature   unsigned")
        if not allow_unsigned:
            status = EXIT_UNTRUSTED
            message = f"{pack.display} is unsigned (pass --allow-unsigned to accept unsigned packs)"
    else:
        key_id, public_key = signer
        if trusted_signer(signer, trusted):
            lines.append(f"  signature   valid, by trusted key {key_id}")
        else:
            lines.append(f"  signature   valid, by key {key_id}, which is not trusted")
            status = EXIT_UNTRUSTED
            message = (f"{pack.display} is signed by key {key_id}, which you do not trust yet\n"
                       f"Check this public key with the pack's author, then pass it with --key {public_key}\n"
                       f"(or trust it for good with: mlpack key trust {public_key})")
    if coverage is not None:
        author, covered = coverage
        by = f"key {author[0]}" if author else "nobody (the author's pack was unsigned)"
        lines.append(f"  derived     from {manifest['derivedFrom'][:16]}…, the author's manifest signed by {by}")
        lines.append(f"  covered     {len(covered)} items by the author's signature, "
                     f"{len(items) - len(covered)} by the redactor's only")
        for item in sorted(items, key=lambda i: i.path.encode()):
            if item.path not in covered:
                lines.append(f"              redactor only: data/{shown(item.path)}")
    lines.append("  bagit       valid")
    lines.append("  ro-crate    valid")
    lines.append(f"  seek index  {index_state}")
    if status == EXIT_UNTRUSTED:
        return status, message, ["intact but not trusted: " + pack.display] + lines, scan_result.captured, items
    return status, None, ["verified: " + pack.display] + lines, scan_result.captured, items


# ---------------------------------------------------------------------------------------
# --extract-one: one file through the seek index (§3)


class IndexLies(Exception):
    """The index disagrees with what it points at: fall back to a sequential scan."""


def read_through_index(pack, index, limits, offset, count):
    """Decompresses `count` tar bytes from tar offset `offset`, starting at the last frame at
    or before it (§3), walking further frames as needed, with the frame rules of §2.1."""
    frames = [f for f in index["frames"] if f["uncompressedOffset"] <= offset]
    frame = frames[-1]
    reader = Frames(pack, limits)
    reader.produced = frame["uncompressedOffset"]
    position = frame["compressedOffset"]
    skip = offset - frame["uncompressedOffset"]
    out = bytearray()
    while len(out) < count:
        if position >= index["_start"] or pack.u32(position) != ZSTD_MAGIC:
            raise IndexLies()
        length = frame_length(pack, position)
        for chunk in reader.decompress(position, length):
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            out += chunk[skip:skip + count - len(out)]
            skip = 0
            if len(out) >= count:
                break
        position += length
    return bytes(out)


def checked_entry(pack, index, limits, top, relative, most):
    """An entry's bytes through the index, its header blocks checked first (§2.3, §7)."""
    rows = [row for row in index["entries"] if row["path"] == top + "/" + relative]
    if len(rows) != 1:
        raise IndexLies()
    row = rows[0]
    if row["size"] > most:
        raise Limit("metadata-size", f"{relative} is {row['size']} bytes", "--max-metadata-size")
    if row["dataOffset"] - row["headerOffset"] > MAX_PAX + 3 * BLOCK or row["dataOffset"] <= row["headerOffset"] \
            and "hardlinkTarget" not in row:
        raise IndexLies()
    target = row.get("hardlinkTarget")
    header_end = row["dataOffset"] if target is None else None
    if target is not None:
        # The link's own header blocks end before its successor; read them up to the limit.
        header_bytes = read_through_index(pack, index, limits, row["headerOffset"], MAX_PAX + 3 * BLOCK)
    else:
        header_bytes = read_through_index(pack, index, limits, row["headerOffset"], header_end - row["headerOffset"])
    stream = Stream(iter([header_bytes]))
    entry = read_header(stream, limits)
    if entry is None:
        raise IndexLies()
    path = decode_path(entry.path, shown(entry.path))
    if path != row["path"] or entry.mode not in (0o644, 0o755):
        raise IndexLies()
    if target is None:
        if entry.kind != b"0" or entry.size != row["size"] or stream.offset != len(header_bytes):
            raise IndexLies()
        return read_through_index(pack, index, limits, row["dataOffset"], row["size"]), entry.mode
    if entry.kind != b"1" or entry.link.decode("utf-8", "replace") != target or entry.size != 0:
        raise IndexLies()
    data, target_mode = checked_entry(pack, index, limits, top, target[len(top) + 1:], most)
    if target_mode != entry.mode:
        raise IndexLies()
    return data, entry.mode


def extract_one(pack, limits, trusted, allow_unsigned, work, item_path):
    """Returns (exit code, message, file with the bytes) reading only what the index names."""
    if not pack.seekable:
        raise IndexLies()
    index, _ = read_index(pack, limits)
    if index is None:
        raise IndexLies()
    top = index["entries"][0]["path"].split("/", 1)[0]
    manifest_bytes, _ = checked_entry(pack, index, limits, top, MANIFEST, limits.max_metadata_size)
    manifest = parse_manifest(manifest_bytes, MANIFEST)
    if manifest["name"] != top:
        raise IndexLies()
    disclosures, _ = checked_entry(pack, index, limits, top, DISCLOSURES, limits.max_metadata_size)
    items = parse_disclosures(disclosures, DISCLOSURES, manifest["items"], manifest["name"])
    has_signature = any(row["path"] == f"{top}/{SIGNATURE}" for row in index["entries"])
    signature = checked_entry(pack, index, limits, top, SIGNATURE, limits.max_metadata_size)[0] \
        if has_signature else None
    signer = check_signature(manifest, manifest_bytes, signature, MANIFEST, SIGNATURE, work)
    trust_problem(pack, signer, trusted, allow_unsigned)
    item = next((i for i in items if i.path == item_path), None)
    if item is None:
        raise Unusable(f"{item_path}: no such item in the pack (withheld, or not an item path below data/)")
    data, mode = checked_entry(pack, index, limits, top, "data/" + item.path, item.size)
    if len(data) != item.size or sha256_hex(data) != item.sha256 or mode != item.mode:
        raise IndexLies()
    fd, spool = tempfile.mkstemp(dir=work)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return spool, item


def trust_problem(pack, signer, trusted, allow_unsigned):
    if signer is None:
        if not allow_unsigned:
            raise Untrusted(f"{pack.display} is unsigned (pass --allow-unsigned to accept unsigned packs)")
        return
    if not trusted_signer(signer, trusted):
        raise Untrusted(f"{pack.display} is signed by key {signer[0]}, which you do not trust yet "
                        f"(trust it with --key {signer[1]})")


def deliver(spool, destination):
    """Moves the checked bytes into place only now (§7: staging, then move)."""
    if destination in (None, "-"):
        with open(spool, "rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer, 1 << 20)
        sys.stdout.buffer.flush()
    else:
        folder = os.path.dirname(os.path.abspath(destination))
        fd, staged = tempfile.mkstemp(dir=folder, prefix=".verify-extract-")
        os.close(fd)
        shutil.copyfile(spool, staged)
        os.replace(staged, destination)


# ---------------------------------------------------------------------------------------
# Command line


def size_argument(text):
    if not re.fullmatch(r"[0-9]+", text):
        raise argparse.ArgumentTypeError(f"{text}: not a whole number")
    return int(text)


def ratio_argument(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: not a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: not a positive number")
    return value


class Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{PROGRAM}: error: {message}\n")
        sys.exit(EXIT_USAGE)


def main(argv):
    parser = Parser(prog="verify.py", description="Check a .mlpack as spec/FORMAT.md says, without mlpack. "
                    "Exit codes: 0 verified; 1 invalid; 2 usage or I/O error, not a pack; 3 no trusted signature.")
    parser.add_argument("pack", help="the pack ('-' reads standard input)")
    parser.add_argument("--key", action="append", default=[], help="trust this public key: a .pub file or a "
                        "public-key line (repeatable)")
    parser.add_argument("--keyring", help="folder of trusted .pub files (default: $XDG_CONFIG_HOME/mlpack/trusted)")
    parser.add_argument("--allow-unsigned", action="store_true", help="accept a pack without a signature")
    parser.add_argument("--max-entries", type=size_argument, default=200_000)
    parser.add_argument("--max-total-size", type=size_argument, default=1 << 40)
    parser.add_argument("--max-metadata-size", type=size_argument, default=64 << 20)
    parser.add_argument("--max-expansion-ratio", type=ratio_argument, default=1000.0)
    parser.add_argument("--extract-one", metavar="ITEM_PATH", help="extract one item (its path below data/) "
                        "through the seek index, after checking the manifest, the disclosures and the signature")
    parser.add_argument("--to", metavar="FILE", help="with --extract-one: where to write it (default: stdout)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no report, only errors")
    limits = parser.parse_args(argv)
    if limits.to and not limits.extract_one:
        parser.error("--to needs --extract-one")
    for program in ("zstd", "minisign"):
        if shutil.which(program) is None:
            return fail(EXIT_USAGE, f"the {program} program is not on PATH (spec/verify.py needs zstd and minisign)")
    work = tempfile.mkdtemp(prefix="mlpack-verify-")
    try:
        trusted = load_trusted_keys(limits.key, limits.keyring)
        pack = PackFile(limits.pack, work)
        if limits.extract_one:
            return run_extract_one(pack, limits, trusted, work)
        status, message, lines, _, _ = verify(pack, limits, trusted, limits.allow_unsigned, work)
        if not limits.quiet:
            print("\n".join(lines))
        if message:
            sys.stdout.flush()
            return fail(status, message)
        return status
    except Invalid as error:
        return fail(EXIT_INVALID, str(error))
    except Unusable as error:
        return fail(EXIT_USAGE, str(error))
    except Untrusted as error:
        return fail(EXIT_UNTRUSTED, str(error))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_extract_one(pack, limits, trusted, work):
    try:
        spool, item = extract_one(pack, limits, trusted, limits.allow_unsigned, work, limits.extract_one)
        how = "through the seek index; the pack's other files were not read"
    except (IndexLies, Invalid):
        # §3: an index that is missing or disagrees with what it points at means a full scan.
        status, message, _, spool, items = verify(pack, limits, trusted, limits.allow_unsigned, work,
                                                  capture="data/" + limits.extract_one)
        if message:
            return fail(status, message)
        item = next((i for i in items if i.path == limits.extract_one), None)
        if item is None or spool is None:
            raise Unusable(f"{limits.extract_one}: no such item in the pack (withheld, or not an item path below data/)")
        how = "after a full sequential scan (the seek index was not usable)"
    deliver(spool, limits.to)
    if not limits.quiet:
        sys.stderr.write(f"extracted: data/{shown(item.path)} ({item.size} bytes, sha256 {item.sha256}) {how}\n")
    return EXIT_VERIFIED


def fail(status, message):
    sys.stderr.write(f"{PROGRAM}: error: {message}\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
