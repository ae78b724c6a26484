#!/usr/bin/env python3
"""Generates a deterministic ~1 GiB mixed build context: binaries, text and many small files.

Usage: gen-context.py DIR [SIZE_MIB]. Idempotent: a complete context (stamp file) is kept.
"""

import os
import random
import sys

root = sys.argv[1]
size_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
stamp = os.path.join(root, ".complete-%d" % size_mib)
if os.path.exists(stamp):
    sys.exit(0)

rng = random.Random(42)
words = [
    "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
    for _ in range(5000)
]


def text(n: int) -> bytes:
    out = []
    size = 0
    while size < n:
        line = " ".join(rng.choice(words) for _ in range(12)) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


mib = 1 << 20
# 40% incompressible binaries (like compiled artifacts), 35% text, 25% small files.
binary_total = size_mib * 40 // 100
for i in range(max(1, binary_total // 16)):
    write(f"{root}/bin/blob-{i:03d}.bin", rng.randbytes(16 * mib))
text_total = size_mib * 35 // 100
for i in range(max(1, text_total // 8)):
    write(f"{root}/share/doc-{i:03d}.txt", text(8 * mib))
small_total = size_mib * 25 // 100 * mib
n = 0
while small_total > 0:
    size = rng.randint(256, 24 * 1024)
    data = text(size) if n % 3 else rng.randbytes(size)
    write(f"{root}/src/pkg{n % 97:02d}/mod{n // 97:03d}/file{n}.py", data)
    small_total -= size
    n += 1
open(stamp, "w").close()
print(f"generated {root}: {size_mib} MiB, {n} small files")
