#!/usr/bin/env python3
"""No request can exhaust the daemon. The real datanoded on a temp Unix
socket, driven by an independent Python client (grpcio-tools stubs generated here).

usage: limits_py_test.py DATANODED PROTO_DIR [unittest args]

Each case is a request from the issue that crashed the daemon, drove it to gigabytes
of memory or was computed before being refused. Each must now be answered at once
(RESOURCE_EXHAUSTED or INVALID_ARGUMENT), with the daemon alive and its peak resident
memory (VmHWM in /proc/<pid>/status) small.
"""
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
import numpy as np
from grpc_tools import protoc

DATANODED, PROTOS = sys.argv[1:3]
del sys.argv[1:3]
GEN = tempfile.mkdtemp(prefix="dn_limits_stubs_")
for p in ("accelerator", "admission_service", "admission", "device_class"):
    assert protoc.main(["protoc", f"-I{PROTOS}", f"--python_out={GEN}", f"--grpc_python_out={GEN}",
                        f"{PROTOS}/datanode/v1/{p}.proto"]) == 0, "protoc failed"
sys.path.insert(0, GEN)
from datanode.v1 import accelerator_pb2 as acc  # noqa: E402
from datanode.v1 import accelerator_pb2_grpc as acc_grpc  # noqa: E402
from datanode.v1 import admission_service_pb2 as adm  # noqa: E402
from datanode.v1 import admission_service_pb2_grpc as adm_grpc  # noqa: E402

MIB = 1 << 20
S8 = acc.OP_KIND_MATMUL_S8_S32
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class Daemon:
    """A datanoded process on a fresh socket in a fresh directory."""

    def __init__(self, root, extra_config=""):
        os.makedirs(root, exist_ok=True)
        self.root, self.sock = root, os.path.join(root, "d.sock")
        config = os.path.join(root, "d.conf")
        with open(config, "w") as f:
            f.write(f'socket_path: "{self.sock}"\nmetrics_socket_path: ""\n'
                    f'store_root: "{root}/store"\nlog_level: "warn"\nexecutor_threads: 4\n'
                    f'drain_timeout_seconds: 5\nbackend_threads: 2\n{extra_config}')
        self.log = open(os.path.join(root, "d.log"), "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen([DATANODED, "--config", config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None, f"datanoded exited at start-up: {self.log_text()}"
            assert time.time() < deadline, "datanoded did not start"
            time.sleep(0.05)
        self.channel = grpc.insecure_channel("unix:" + self.sock, options=[
            ("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
        self.acc = acc_grpc.AcceleratorStub(self.channel)
        self.acc.GetNodeInfo(acc.GetNodeInfoRequest(), timeout=20, wait_for_ready=True)

    def log_text(self):
        with open(os.path.join(self.root, "d.log")) as f:
            return f.read()[-2000:]

    def alive(self):
        return (self.proc.poll() is None and
                self.acc.GetNodeInfo(acc.GetNodeInfoRequest(), timeout=10).spec_version >= 1)

    def hwm_mib(self):
        return proc_status_kib(self.proc.pid, "VmHWM") / 1024

    def stop(self):
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.log.close()


def s8_request(m, n, k, a=None, w=None, value=1):
    a = np.full((m, k), value, np.int8) if a is None else a
    w = np.full((n, k), value, np.int8) if w is None else w
    return acc.MatMulRequest(op=S8, m=m, n=n, k=k, a=np.asarray(a).tobytes(),
                             inline_weights=acc.InlineWeights(w=np.asarray(w).tobytes()))


def s8_digest(a, w):
    return hashlib.sha256((a.astype(np.int32) @ w.astype(np.int32).T).astype("<i4").tobytes()).hexdigest()


class Harness(unittest.TestCase):
    def call(self, daemon, req, timeout=60):
        start = time.monotonic()
        try:
            resp = daemon.acc.MatMul(req, timeout=timeout)
            return grpc.StatusCode.OK, resp, time.monotonic() - start
        except grpc.RpcError as e:
            return e.code(), e.details(), time.monotonic() - start

    def assertRefusedAtOnce(self, daemon, req, code, needle, seconds=2.0, hwm_mib=None):
        got, detail, elapsed = self.call(daemon, req)
        self.assertEqual(got, code, detail)
        self.assertIn(needle, detail)
        self.assertLess(elapsed, seconds, f"refused only after {elapsed:.1f} s: {detail}")
        self.assertTrue(daemon.alive(), "the daemon must survive")
        if hwm_mib is not None:
            self.assertLess(daemon.hwm_mib(), hwm_mib, "the daemon allocated for a refused call")


class OversizedRequests(Harness):
    """Default limits: max_reply_bytes 64 MiB, memory budget 1 GiB."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dn_limits_")
        cls.d = Daemon(os.path.join(cls.tmp, "d"))
        cls.baseline_mib = cls.d.hwm_mib()
        # Everything below is refused: the peak may grow by the requests gRPC received
        # (a few MiB), never by an output.
        cls.hwm_limit = cls.baseline_mib + 64

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_output_over_2gib_is_refused_and_the_daemon_lives(self):
        # The reproducer: a 131073 x 4096 int32 output is 2 GiB + 16 KiB. The
        # old daemon computed it (6.1 GB peak) and aborted in gRPC's serializer.
        self.assertRefusedAtOnce(self.d, s8_request(131073, 4096, 1), EXHAUSTED,
                                 "over the reply limit", hwm_mib=self.hwm_limit)

    def test_m_2p20_n_4096_k_1_is_refused(self):
        # A 16 GiB output from a 1 MiB request: the old daemon was OOM-killed.
        self.assertRefusedAtOnce(self.d, s8_request(1 << 20, 4096, 1), EXHAUSTED,
                                 "over the reply limit", hwm_mib=self.hwm_limit)

    def test_invalid_40_byte_request_allocates_nothing(self):
        # M = 2^20, N = 4096, K = 1 and no operands: the old daemon allocated the 16 GiB
        # output first (16.4 GB peak for 37 s) and only then said A was empty.
        req = acc.MatMulRequest(op=S8, m=1 << 20, n=4096, k=1,
                                inline_weights=acc.InlineWeights(w=b""))
        self.assertLess(req.ByteSize(), 64)
        self.assertRefusedAtOnce(self.d, req, INVALID, "operand A has 0 bytes", seconds=1.0,
                                 hwm_mib=self.hwm_limit)

    def test_256mib_output_is_refused_before_computing(self):
        # 16384 x 4096 int32 = 256 MiB: the old daemon computed it, then failed to send.
        self.assertRefusedAtOnce(self.d, s8_request(16384, 4096, 1), EXHAUSTED,
                                 "over the reply limit", seconds=1.0, hwm_mib=self.hwm_limit)

    def test_wrong_operand_sizes_are_invalid(self):
        req = s8_request(4, 4, 8)
        req.inline_weights.w = b"\x01" * 31
        self.assertRefusedAtOnce(self.d, req, INVALID, "operand W has 31 bytes")

    def test_admission_of_a_class_too_large_for_the_budget_is_refused(self):
        # A class sent as text names the shapes the run allocates: 40000 x 40000 int32
        # is a 6.4 GB output (three sets: ~19 GB), refused before the run starts.
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                               "device_classes", "mini_pc.textproto")) as f:
            text = f.read().replace("canonical_shape { m: 256 n: 512 k: 512 }",
                                    "canonical_shape { m: 40000 n: 40000 k: 512 }")
        self.assertIn("m: 40000", text)
        stub = adm_grpc.AdmissionStub(self.d.channel)
        req = adm.RunAdmissionRequest(class_text=text, nonce_hex="00" * 16)
        start = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            for _ in stub.RunAdmission(req, timeout=60):
                pass
        self.assertEqual(cm.exception.code(), EXHAUSTED, cm.exception.details())
        self.assertIn("memory budget", cm.exception.details())
        self.assertLess(time.monotonic() - start, 5)
        self.assertTrue(self.d.alive())
        self.assertLess(self.d.hwm_mib(), self.hwm_limit)

    def test_a_valid_call_still_works(self):
        rng = np.random.default_rng(1)
        a = rng.integers(-127, 128, (33, 65), dtype=np.int8)
        w = rng.integers(-127, 128, (17, 65), dtype=np.int8)
        got, resp, _ = self.call(self.d, s8_request(33, 17, 65, a, w))
        self.assertEqual(got, grpc.StatusCode.OK, resp)
        self.assertEqual(resp.output_digest, s8_digest(a, w))
        self.assertEqual(hashlib.sha256(resp.out).hexdigest(), resp.output_digest)


class MemoryBudget(Harness):
    """A 64 MiB budget and 16 MiB reply cap, under concurrent 8 MiB-output calls."""

    BUDGET_MIB = 64

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dn_budget_")
        cls.d = Daemon(os.path.join(cls.tmp, "d"),
                       f"limits {{ memory_budget_bytes: {cls.BUDGET_MIB * MIB} "
                       f"max_reply_bytes: {16 * MIB} max_in_flight: 64 }}\n")
        cls.baseline_mib = cls.d.hwm_mib()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_concurrent_calls_beyond_the_budget_are_refused_at_once(self):
        # Each call reserves its request plus twice its 8 MiB output (~16.2 MiB): three
        # fit in 64 MiB at a time; 16 sent together must see RESOURCE_EXHAUSTED for some,
        # exact answers for the others, and a peak that stays within the budget.
        m, n, k = 2048, 1024, 256
        rng = np.random.default_rng(7)
        a = rng.integers(-127, 128, (m, k), dtype=np.int8)
        w = rng.integers(-127, 128, (n, k), dtype=np.int8)
        want = s8_digest(a, w)
        req = s8_request(m, n, k, a, w)
        codes, bad = [], []
        for _ in range(5):
            results = [None] * 16
            barrier = threading.Barrier(16)

            def run(i):
                barrier.wait()
                results[i] = self.call(self.d, req)
            threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for code, resp, _ in results:
                codes.append(code)
                if code == grpc.StatusCode.OK:
                    if resp.output_digest != want or hashlib.sha256(resp.out).hexdigest() != want:
                        bad.append("wrong digest")
                elif code == EXHAUSTED:
                    if "memory budget" not in resp:
                        bad.append(resp)
                else:
                    bad.append(f"{code}: {resp}")
            if EXHAUSTED in codes and grpc.StatusCode.OK in codes:
                break
        self.assertEqual(bad, [])
        self.assertIn(EXHAUSTED, codes, "16 concurrent 16 MiB reservations fit a 64 MiB budget?")
        self.assertIn(grpc.StatusCode.OK, codes)
        self.assertTrue(self.d.alive())
        # Outputs held: at most the budget (plus gRPC's own buffers and the CPU backend).
        self.assertLess(self.d.hwm_mib(), self.baseline_mib + self.BUDGET_MIB + 48)
        # Everything was released: a call that needs half the budget fits again.
        got, resp, _ = self.call(self.d, req)
        self.assertEqual(got, grpc.StatusCode.OK, resp)

    def test_a_call_larger_than_the_whole_budget_is_refused(self):
        # A 40 MiB request with a 12 MiB output (under the 16 MiB cap) needs 40 + 2 x 12
        # MiB: more than the whole 64 MiB budget, so it can never run.
        self.assertRefusedAtOnce(self.d, s8_request(10240, 300, 4096), EXHAUSTED,
                                 "memory budget", seconds=5.0)


class AllocationFailure(Harness):
    """An allocation that fails inside the daemon (address space capped with prlimit)
    ends that call with RESOURCE_EXHAUSTED; the daemon lives on."""

    def test_bad_alloc_is_a_status(self):
        tmp = tempfile.mkdtemp(prefix="dn_alloc_")
        d = Daemon(os.path.join(tmp, "d"),
                   f"limits {{ memory_budget_bytes: {4096 * MIB} max_reply_bytes: {1024 * MIB} }}\n")
        try:
            vm_kib = proc_status_kib(d.proc.pid, "VmSize")
            cap = (vm_kib + 256 * 1024) * 1024  # 256 MiB of address space to spare
            resource.prlimit(d.proc.pid, resource.RLIMIT_AS, (cap, cap))
            # A 768 MiB output fits the limits and the budget but not the address space.
            got, detail, _ = self.call(d, s8_request(196608, 1024, 1))
            self.assertEqual(got, EXHAUSTED, detail)
            self.assertIn("ran out of memory", detail)
            self.assertTrue(d.alive())
            got, resp, _ = self.call(d, s8_request(8, 8, 8))
            self.assertEqual(got, grpc.StatusCode.OK, resp)
        finally:
            d.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(GEN, ignore_errors=True)
