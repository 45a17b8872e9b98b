#!/usr/bin/env python3
"""Inputs for the cost rows of bench/RESULTS.md (bench/costs.sh): packs and files as big as
the reader limits let a stranger make them.

  names OUT [ENTRIES] [NAME_BYTES]   a zstd tar of ENTRIES (default 199,999: under the entry
                                     limit) empty files under pack/data/, each named by about
                                     NAME_BYTES (default 3,800) bytes: a few MB that expand to
                                     a GB of names. No seek index, no manifest: a reader must
                                     scan it all before it can say so.
  tree DIR [FILES]                   FILES (default 199,980) small files below DIR, for
                                     `mlpack create --code DIR`: a valid pack at the entry limit.
  links DIR [PAIRS]                  PAIRS (default 30,000) pairs of identical files, a/ and b/:
                                     `create --code DIR` stores each b/ file as a hard link
                                     to its a/ twin, the targets spread over the pack.
  safetensors OUT MIB [SEED]         one F32 tensor of MIB MiB, random-normal; SEED 1 adds
                                     a small perturbation to the SEED 0 values.
  many-tensors OUT COUNT [SEED]      COUNT tensors of 4 F32 each: a header of ~60 bytes per
                                     tensor (safetensors allows 100 MB), the data small.
"""
import io, os, subprocess, sys, tarfile


def names(out, entries=199_999, name_bytes=3_800):
    # Components of at most 255 bytes, a path of at most 4,096 (spec/FORMAT.md §7.1).
    component = "n" * 250
    depth = max(0, (name_bytes - 40) // 251)
    prefix = "pack/data/code/" + "/".join([component] * depth) + "/" if depth else "pack/data/code/"
    with open(out, "wb") as f:
        zstd = subprocess.Popen(["zstd", "-q", "-1", "-T2", "-c"], stdin=subprocess.PIPE, stdout=f)
        with tarfile.open(fileobj=zstd.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for i in range(entries):
                # A few random bytes per name keep it under the expansion-ratio limit.
                info = tarfile.TarInfo(f"{prefix}f{i:07d}-{os.urandom(8).hex()}")
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(b""))
        zstd.stdin.close()
        if zstd.wait() != 0:
            sys.exit("zstd failed")


def tree(root, files=199_980):
    for i in range(files):
        d = os.path.join(root, f"d{i // 1000:03d}")
        if i % 1000 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"file-with-a-longer-name-{i:06d}.py"), "w") as f:
            f.write(f"x = {i}\n")


def links(root, pairs=30_000):
    for side in "ab":
        os.makedirs(os.path.join(root, side), exist_ok=True)
        for i in range(pairs):
            with open(os.path.join(root, side, f"f{i:05d}.py"), "w") as f:
                f.write(f"x = {i}\n")


def safetensors(out, mib, seed=0):
    import json, struct
    import numpy as np
    count = (mib << 20) // 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [count], "data_offsets": [0, count * 4]}}).encode()
    header += b" " * (-len(header) % 8)
    base = np.random.default_rng(2026)
    noise = np.random.default_rng(7)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        step = 1 << 24
        for start in range(0, count, step):
            values = base.standard_normal(min(step, count - start), dtype=np.float32)
            if seed:
                values += noise.standard_normal(values.size, dtype=np.float32) * np.float32(1e-6)
            values.tofile(f)


def many_tensors(out, count, seed=0):
    import json, struct
    header = {f"layer.{i:07d}.weight": {"dtype": "F32", "shape": [4], "data_offsets": [16 * i, 16 * i + 16]}
              for i in range(count)}
    header = json.dumps(header, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.write(struct.pack("<f", float(seed)) * (4 * count))


if __name__ == "__main__":
    mode, *args = sys.argv[1:] or ["help"]
    if mode == "names":
        names(args[0], *map(int, args[1:]))
    elif mode == "tree":
        tree(args[0], *map(int, args[1:]))
    elif mode == "many-tensors":
        many_tensors(args[0], *map(int, args[1:]))
    elif mode == "links":
        links(args[0], *map(int, args[1:]))
    elif mode == "safetensors":
        safetensors(args[0], *map(int, args[1:]))
    else:
        sys.exit(__doc__)
