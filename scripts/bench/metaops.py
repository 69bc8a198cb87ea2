#!/usr/bin/env python3
"""Times one metadata phase over N files in one directory and prints JSON.
Usage: metaops.py create|stat|list|unlink DIR N"""

import json
import os
import sys
import time


def main() -> int:
    phase, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = [os.path.join(d, f"f{i:06d}") for i in range(n)]
    t0 = time.perf_counter()
    if phase == "create":
        for p in names:
            os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        ops = n
    elif phase == "stat":
        for p in names:
            os.stat(p)
        ops = n
    elif phase == "list":
        with os.scandir(d) as it:
            ops = sum(1 for _ in it)
        if ops != n:
            raise SystemExit(f"list: saw {ops} entries, expected {n}")
    elif phase == "unlink":
        for p in names:
            os.unlink(p)
        ops = n
    else:
        raise SystemExit(f"unknown phase {phase}")
    print(json.dumps({"phase": phase, "ops": ops, "seconds": time.perf_counter() - t0}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
