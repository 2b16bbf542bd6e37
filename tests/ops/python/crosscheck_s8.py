#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Independent cross-check of matmul_s8_s32 with numpy.

Runs the C++ dumper (ops_s8_dump) into a temporary directory, then recomputes
C = A @ W.T in int64 with numpy for every dumped case and backend and compares the
int32 little-endian bytes with what the backend wrote. numpy shares no code with the
reference, so this catches a reference that is wrong in the same way as the backends.
Exit code 77 (ctest SKIP) if numpy is missing.
"""
import pathlib
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy not installed: skipping")
    sys.exit(77)


def main() -> int:
    dumper = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([dumper, tmp], check=True)
        files = sorted(pathlib.Path(tmp).glob("case_*.bin"))
        if not files:
            print("no cases dumped")
            return 1
        for path in files:
            data = path.read_bytes()
            m, n, k = struct.unpack_from("<qqq", data, 0)
            off = 24
            a = np.frombuffer(data, dtype=np.int8, count=m * k, offset=off).reshape(m, k)
            off += m * k
            w = np.frombuffer(data, dtype=np.int8, count=n * k, offset=off).reshape(n, k)
            off += n * k
            got = data[off:off + 4 * m * n]
            assert off + 4 * m * n == len(data), f"{path.name}: bad size"
            # The spec's operand domain: symmetric int8.
            assert a.min() >= -127 and w.min() >= -127, f"{path.name}: -128 in input"
            want = a.astype(np.int64) @ w.astype(np.int64).T
            assert np.abs(want).max() < 2**31, f"{path.name}: sum outside int32"
            want_bytes = want.astype("<i4").tobytes()
            if want_bytes != got:
                diff = next(i for i in range(len(got)) if got[i] != want_bytes[i])
                print(f"{path.name} [M={m}, N={n}, K={k}]: differs from numpy at byte "
                      f"{diff} (element [{diff // 4 // n}, {diff // 4 % n}])")
                return 1
            print(f"{path.name} [M={m}, N={n}, K={k}]: equal to numpy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
