#!/usr/bin/python3
"""Cost of the close-to-open check: open + read 4 KiB + close of one cached file, N times,
through a mount. Usage: open-cost.py MOUNTED_FILE [N] -> prints microseconds per open."""
import os
import sys
import time

path = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
for _ in range(200):  # warm: the kernel caches the entry, the attributes and the page
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 4096)
    os.close(fd)
t0 = time.perf_counter()
for _ in range(n):
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 4096)
    os.close(fd)
print(f"{(time.perf_counter() - t0) / n * 1e6:.2f}")
