#!/usr/bin/env python3
"""Integration test: the real datanoded on a temp Unix socket, driven by an
independent Python client generated from the protos with grpcio-tools.

usage: daemon_py_test.py BUILD_NODE_DIR MODELS_DIR PROTO_DIR
  BUILD_NODE_DIR holds datanoded; MODELS_DIR is gen_models.py's output.
Expected results are computed here independently (numpy for the s8 op) or by a
second daemon running the reference backend (Q8 ops: one exact rounding per output,
checked by digest equality).
"""
import hashlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
import numpy as np
from grpc_tools import protoc

BUILD, MODELS, PROTOS = sys.argv[1:4]
del sys.argv[1:4]
GEN = tempfile.mkdtemp(prefix="dn_pystubs_")
for p in ("accelerator", "store"):
    rc = protoc.main(["protoc", f"-I{PROTOS}", f"--python_out={GEN}", f"--grpc_python_out={GEN}",
                      f"{PROTOS}/datanode/v1/{p}.proto"])
    assert rc == 0, "protoc failed"
sys.path.insert(0, GEN)
from datanode.v1 import accelerator_pb2 as acc  # noqa: E402
from datanode.v1 import accelerator_pb2_grpc as acc_grpc  # noqa: E402
from datanode.v1 import store_pb2 as st  # noqa: E402
from datanode.v1 import store_pb2_grpc as st_grpc  # noqa: E402

CHUNK = 1 << 20


def object_digest(data):
    """A store object's name (docs/store.md): SHA-256 of its manifest text."""
    text = "datanode-object v2\nsize %d\n" % len(data) + "".join(
        "chunk %s\n" % hashlib.sha256(data[i:i + CHUNK]).hexdigest() for i in range(0, len(data), CHUNK))
    return hashlib.sha256(text.encode()).hexdigest()


class Daemon:
    """A datanoded process on a fresh socket; `root` survives restarts."""

    def __init__(self, root, backend="cpu", extra_config=""):
        self.root, self.backend = root, backend
        os.makedirs(root, exist_ok=True)
        self.sock = os.path.join(root, "d.sock")
        self.config = os.path.join(root, "d.conf")
        with open(self.config, "w") as f:
            f.write(f'socket_path: "{self.sock}"\nmetrics_socket_path: "{root}/m.sock"\n'
                    f'store_root: "{root}/store"\nbackend: "{backend}"\nlog_level: "warn"\n'
                    f'executor_threads: 2\ndrain_timeout_seconds: 5\n{extra_config}')
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.root, "d.log"), "a")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen([os.path.join(BUILD, "datanoded"), "--config", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None, "datanoded exited at start-up"
            assert time.time() < deadline, "datanoded did not start"
            time.sleep(0.05)
        self.channel = grpc.insecure_channel("unix:" + self.sock, options=[
            ("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
        self.acc = acc_grpc.AcceleratorStub(self.channel)
        self.store = st_grpc.StoreStub(self.channel)
        self.acc.GetNodeInfo(acc.GetNodeInfoRequest(), timeout=10, wait_for_ready=True)

    def stop(self, sig=signal.SIGTERM):
        self.channel.close()
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=30)
        self.log.close()
        return rc

    def alive(self):
        return self.acc.GetNodeInfo(acc.GetNodeInfoRequest(), timeout=10).spec_version == 2


def put(daemon, data, piece=CHUNK):
    def gen():
        for i in range(0, max(len(data), 1), piece):
            yield st.PutBlobRequest(data=data[i:i + piece], last=i + piece >= len(data))
    return daemon.store.PutBlob(gen(), timeout=60)


def get(daemon, digest):
    return b"".join(r.data for r in daemon.store.GetBlob(st.GetBlobRequest(digest=digest), timeout=60))


def tensor_bytes(path, name):
    """The raw bytes of a safetensors tensor, parsed here independently."""
    import json
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        b, e = header[name]["data_offsets"]
        f.seek(8 + n + b)
        return f.read(e - b)


class DaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dn_daemon_py_")
        cls.d = Daemon(os.path.join(cls.tmp, "cpu"))
        cls.ref = Daemon(os.path.join(cls.tmp, "ref"), backend="reference")

    @classmethod
    def tearDownClass(cls):
        for d in (cls.d, cls.ref):
            assert d.stop() == 0, "datanoded did not exit cleanly on SIGTERM"
        shutil.rmtree(cls.tmp, ignore_errors=True)
        shutil.rmtree(GEN, ignore_errors=True)

    def assertRpcError(self, code, needle, fn, *args, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        self.assertIn(needle, cm.exception.details())
        self.assertTrue(self.d.alive())

    def test_node_info(self):
        info = self.d.acc.GetNodeInfo(acc.GetNodeInfoRequest(), timeout=10)
        self.assertEqual(info.spec_version, 2)
        serving = [b.name for b in info.backends if b.serving]
        self.assertEqual(serving, ["cpu"])
        self.assertIn("matmul_s8_s32", [op for b in info.backends for op in b.supported_ops])

    def test_blob_round_trip_and_verification(self):
        data = os.urandom(2 * CHUNK + 12345)
        info = put(self.d, data, piece=300_000)
        self.assertEqual(info.digest, object_digest(data))
        self.assertEqual(len(info.chunks), 3)
        self.assertEqual(get(self.d, info.digest), data)
        self.assertIn(info.digest, [b.digest for b in self.d.store.ListBlobs(st.ListBlobsRequest()).blobs])
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, "expected",
                            self.d.store.PutBlob,
                            iter([st.PutBlobRequest(expected_digest="00" * 32, data=b"x", last=True)]))
        # A stream that ends without `last` (a client that died) stores nothing.
        before = len(self.d.store.ListBlobs(st.ListBlobsRequest()).blobs)
        self.assertRpcError(grpc.StatusCode.ABORTED, "without a message marked last", self.d.store.PutBlob,
                            iter([st.PutBlobRequest(data=b"truncated")]))
        self.assertEqual(len(self.d.store.ListBlobs(st.ListBlobsRequest()).blobs), before)
        self.d.store.DeleteBlob(st.DeleteBlobRequest(digest=info.digest))
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, "no object", self.d.store.StatBlob,
                            st.StatBlobRequest(digest=info.digest))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, "64 hex", self.d.store.StatBlob,
                            st.StatBlobRequest(digest="xyz"))

    def test_matmul_s8_by_reference_matches_numpy(self):
        path = os.path.join(MODELS, "s8.safetensors")
        model = self.d.store.ImportModel(st.ImportModelRequest(path=path), timeout=60)
        self.assertEqual(model.format, st.MODEL_FORMAT_SAFETENSORS)
        w = np.frombuffer(tensor_bytes(path, "w"), dtype=np.int8).reshape(16, 64)
        rng = np.random.default_rng(5)
        a = rng.integers(-127, 128, size=(3, 64), dtype=np.int8)
        req = acc.MatMulRequest(op=acc.OP_KIND_MATMUL_S8_S32, m=3, n=16, k=64, a=a.tobytes(),
                                weight_ref=acc.WeightRef(model_digest=model.digest, tensor="w"))
        resp = self.d.acc.MatMul(req, timeout=30)
        expected = (a.astype(np.int64) @ w.astype(np.int64).T).astype("<i4").tobytes()
        self.assertEqual(resp.out, expected)
        self.assertEqual(resp.output_digest, hashlib.sha256(expected).hexdigest())
        # The compute share of the published price: ceil(M*N*K / 64) + ceil(|W| / 64).
        self.assertEqual(resp.cycles, -(-3 * 16 * 64 // 64) + -(-16 * 64 // 64))
        # Inline weights give the same bytes and the same compute share.
        inline = self.d.acc.MatMul(acc.MatMulRequest(op=acc.OP_KIND_MATMUL_S8_S32, m=3, n=16, k=64, a=a.tobytes(),
                                                     inline_weights=acc.InlineWeights(w=w.tobytes())), timeout=30)
        self.assertEqual(inline.out, expected)
        self.assertEqual(inline.cycles, resp.cycles)
        # Wrong shape, unknown tensor, wrong format, unknown model.
        bad = acc.MatMulRequest()
        bad.CopyFrom(req)
        bad.n = 8
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, "has shape [16,64]", self.d.acc.MatMul, bad)
        bad.n = 16
        bad.weight_ref.tensor = "missing"
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, "no tensor 'missing'", self.d.acc.MatMul, bad)
        bad.weight_ref.tensor = "norm"
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, "is F32", self.d.acc.MatMul, bad)
        bad.weight_ref.model_digest = "ab" * 32
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, "no model", self.d.acc.MatMul, bad)
        bad.CopyFrom(req)
        bad.a = b"\x80" * (3 * 64)  # -128 is not a valid symmetric int8
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, "", self.d.acc.MatMul, bad)
        # A model's blobs cannot be deleted behind its back.
        self.assertRpcError(grpc.StatusCode.FAILED_PRECONDITION, "delete the model", self.d.store.DeleteBlob,
                            st.DeleteBlobRequest(digest=model.source_digest))

    def test_matmul_q8_by_reference_matches_reference_backend(self):
        path = os.path.join(MODELS, "q.gguf")
        m_cpu = self.d.store.ImportModel(st.ImportModelRequest(path=path), timeout=60)
        m_ref = self.ref.store.ImportModel(st.ImportModelRequest(path=path), timeout=60)
        self.assertEqual(m_cpu.digest, m_ref.digest)  # the model name is a pure function of the file
        self.assertEqual(m_cpu.format, st.MODEL_FORMAT_GGUF)
        shapes = {t.name: list(t.shape) for t in m_cpu.tensors}
        self.assertEqual(shapes["q8"], [8, 64])
        self.assertEqual(shapes["q6k"], [2, 256])
        # A as Q8_0 blocks: f16 scale 2^-7, quants in [-127, 127].
        rng = np.random.default_rng(9)
        m = 5
        blocks = bytearray()
        for _ in range(m * 2):
            blocks += np.float16(2.0 ** -7).tobytes() + rng.integers(-127, 128, 32, dtype=np.int8).tobytes()
        for op, tensor in ((acc.OP_KIND_MATMUL_Q8_0_Q8_0, "q8"), (acc.OP_KIND_MATMUL_Q8_0_Q4_0, "q4_0"),
                           (acc.OP_KIND_MATMUL_Q8_0_Q4_1, "q4_1")):
            req = acc.MatMulRequest(op=op, m=m, n=8, k=64, a=bytes(blocks),
                                    weight_ref=acc.WeightRef(model_digest=m_cpu.digest, tensor=tensor))
            got = self.d.acc.MatMul(req, timeout=30)
            want = self.ref.acc.MatMul(req, timeout=30)
            self.assertEqual(got.output_digest, want.output_digest, tensor)
            self.assertEqual(got.out, want.out)
            self.assertEqual(got.output_digest, hashlib.sha256(got.out).hexdigest())
        # s8 op on a GGUF I8 tensor; Q6_K is stored but not computable.
        a8 = rng.integers(-127, 128, size=(2, 64), dtype=np.int8)
        r = self.d.acc.MatMul(acc.MatMulRequest(op=acc.OP_KIND_MATMUL_S8_S32, m=2, n=8, k=64, a=a8.tobytes(),
                              weight_ref=acc.WeightRef(model_digest=m_cpu.digest, tensor="w_i8")), timeout=30)
        self.assertEqual(len(r.out), 2 * 8 * 4)
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, "is Q6_K", self.d.acc.MatMul,
                            acc.MatMulRequest(op=acc.OP_KIND_MATMUL_Q8_0_Q8_0, m=1, n=2, k=256, a=b"\0" * 272,
                                              weight_ref=acc.WeightRef(model_digest=m_cpu.digest, tensor="q6k")))

    def test_hostile_imports_are_rejected_and_daemon_stays_up(self):
        def write(name, data):
            p = os.path.join(self.tmp, name)
            with open(p, "wb") as f:
                f.write(data)
            return p

        def st_file(header, data_len):
            h = header.encode()
            return struct.pack("<Q", len(h)) + h + b"\0" * data_len

        gguf = b"GGUF" + struct.pack("<IQQ", 3, 1 << 62, 0)
        cases = [
            ("trunc.safetensors", b"\x10\0\0", "truncated"),
            ("huge.safetensors", struct.pack("<Q", 1 << 50) + b"{}", "exceeds the limit"),
            ("past.safetensors", struct.pack("<Q", 1000) + b"{}", "runs past the end"),
            ("overlap.safetensors", st_file('{"a":{"dtype":"I8","shape":[8],"data_offsets":[0,8]},'
                                            '"b":{"dtype":"I8","shape":[8],"data_offsets":[4,12]}}', 12), "overlap"),
            ("shape.safetensors", st_file('{"a":{"dtype":"I8","shape":[8],"data_offsets":[0,9]}}', 9), "need 8"),
            ("count.gguf", gguf, "tensor count"),
            ("trunc.gguf", b"GGUF\x03\0", "truncated"),
        ]
        for name, data, needle in cases:
            with self.subTest(name):
                self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, needle, self.d.store.ImportModel,
                                    st.ImportModelRequest(path=write(name, data)))
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, "cannot open", self.d.store.ImportModel,
                            st.ImportModelRequest(path="/nonexistent/model.gguf"))

    def test_import_root_confines_imports_and_delete_unpins(self):
        root = os.path.join(self.tmp, "confined")
        d = Daemon(root, extra_config=f'import_root: "{MODELS}"\n')
        try:
            with self.assertRaises(grpc.RpcError) as cm:
                d.store.ImportModel(st.ImportModelRequest(path=os.path.join(MODELS, "..", "..", "x.gguf")))
            self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
            self.assertIn("outside the import_root", cm.exception.details())
            model = d.store.ImportModel(st.ImportModelRequest(path=os.path.join(MODELS, "s8.safetensors")))
            d.acc.MatMul(acc.MatMulRequest(op=acc.OP_KIND_MATMUL_S8_S32, m=1, n=16, k=64, a=b"\1" * 64,
                                           weight_ref=acc.WeightRef(model_digest=model.digest, tensor="w")))
            self.assertGreater(d.acc.GetNodeInfo(acc.GetNodeInfoRequest()).pinned_bytes, 0)
            d.store.DeleteModel(st.DeleteModelRequest(digest=model.digest))
            info = d.acc.GetNodeInfo(acc.GetNodeInfoRequest())
            self.assertEqual(info.pinned_bytes, 0)
            self.assertEqual(info.store_used_bytes, 0)
        finally:
            self.assertEqual(d.stop(), 0)


class FreshDaemonTest(unittest.TestCase):
    """Each test runs its own daemon: corruption, capacity, crashes, drain, limits."""
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dn_daemon_py_c_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_flipped_byte_in_stored_chunk_is_data_loss(self):
        d = Daemon(self.tmp)
        try:
            path = os.path.join(MODELS, "s8.safetensors")
            model = d.store.ImportModel(st.ImportModelRequest(path=path), timeout=60)
            src = d.store.StatBlob(st.StatBlobRequest(digest=model.source_digest))
            chunk = os.path.join(self.tmp, "store", "chunks", src.chunks[0][:2], src.chunks[0])
            with open(chunk, "r+b") as f:
                f.seek(200)
                b = f.read(1)
                f.seek(200)
                f.write(bytes([b[0] ^ 1]))
            with self.assertRaises(grpc.RpcError) as cm:
                get(d, model.source_digest)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.DATA_LOSS)
            self.assertIn("corrupt", cm.exception.details())
            req = acc.MatMulRequest(op=acc.OP_KIND_MATMUL_S8_S32, m=1, n=16, k=64, a=b"\1" * 64,
                                    weight_ref=acc.WeightRef(model_digest=model.digest, tensor="w"))
            with self.assertRaises(grpc.RpcError) as cm:
                d.acc.MatMul(req, timeout=30)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.DATA_LOSS)
            self.assertTrue(d.alive())
        finally:
            self.assertEqual(d.stop(), 0)

    def test_full_store_is_resource_exhausted_and_nothing_visible(self):
        d = Daemon(self.tmp, extra_config=f"store_capacity_bytes: {3 * CHUNK}\n")
        try:
            ok = put(d, os.urandom(2 * CHUNK))
            with self.assertRaises(grpc.RpcError) as cm:
                put(d, os.urandom(2 * CHUNK))
            self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("store full", cm.exception.details())
            blobs = [b.digest for b in d.store.ListBlobs(st.ListBlobsRequest()).blobs]
            self.assertEqual(blobs, [ok.digest])
            self.assertTrue(d.alive())
        finally:
            self.assertEqual(d.stop(), 0)

    def test_sigkill_mid_upload_leaves_no_partial_object(self):
        d = Daemon(self.tmp)
        done = [put(d, os.urandom(CHUNK + 7)), put(d, os.urandom(3 * CHUNK))]
        started = threading.Event()

        def slow_upload():
            def gen():
                for i in range(100):
                    if i == 3:
                        started.set()
                    yield st.PutBlobRequest(data=os.urandom(CHUNK // 2), last=i == 99)
                    time.sleep(0.02)
            try:
                d.store.PutBlob(gen(), timeout=60)
            except grpc.RpcError:
                pass

        threads = [threading.Thread(target=slow_upload) for _ in range(3)]
        for t in threads:
            t.start()
        started.wait(10)
        time.sleep(0.2)
        d.proc.kill()  # SIGKILL mid-upload
        d.proc.wait()
        d.log.close()
        d.channel.close()
        for t in threads:
            t.join()
        d.start()
        try:
            blobs = sorted(b.digest for b in d.store.ListBlobs(st.ListBlobsRequest()).blobs)
            self.assertEqual(blobs, sorted(i.digest for i in done))
            for i in done:
                self.assertEqual(object_digest(get(d, i.digest)), i.digest)
            self.assertEqual(os.listdir(os.path.join(self.tmp, "store", "tmp")), [])
            # Only the completed objects' chunks remain (orphans collected at start-up).
            n_chunks = sum(len(f) for _, _, f in os.walk(os.path.join(self.tmp, "store", "chunks")))
            self.assertEqual(n_chunks, 2 + 3)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_sigterm_drains_in_flight_upload(self):
        d = Daemon(self.tmp)
        sent = threading.Event()
        pieces = [os.urandom(CHUNK // 2) for _ in range(6)]

        def gen():
            for i, p in enumerate(pieces):
                if i == 2:
                    sent.set()
                    time.sleep(0.5)  # SIGTERM arrives while the upload is in flight
                yield st.PutBlobRequest(data=p, last=i == len(pieces) - 1)

        result = {}

        def upload():
            result["info"] = d.store.PutBlob(gen(), timeout=30)

        t = threading.Thread(target=upload)
        t.start()
        sent.wait(10)
        time.sleep(0.1)
        d.proc.send_signal(signal.SIGTERM)
        t.join()
        self.assertEqual(d.proc.wait(timeout=30), 0)
        d.log.close()
        d.channel.close()
        self.assertEqual(result["info"].digest, object_digest(b"".join(pieces)))
        d.start()  # the drained upload is durable
        try:
            self.assertEqual(object_digest(get(d, result["info"].digest)), result["info"].digest)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_per_caller_rate_limit_and_metrics(self):
        d = Daemon(self.tmp, extra_config="limits { max_ops_per_second: 2 }\n")
        try:
            req = acc.MatMulRequest(op=acc.OP_KIND_MATMUL_S8_S32, m=1, n=1, k=32, a=b"\1" * 32,
                                    inline_weights=acc.InlineWeights(w=b"\2" * 32))
            codes = []
            for _ in range(6):
                try:
                    r = d.acc.MatMul(req, timeout=10)
                    self.assertEqual(struct.unpack("<i", r.out)[0], 64)
                    codes.append("OK")
                except grpc.RpcError as e:
                    self.assertIn("ops per second", e.details())
                    codes.append(e.code().name)
            self.assertIn("OK", codes)
            self.assertIn("RESOURCE_EXHAUSTED", codes)
            import socket
            s = socket.socket(socket.AF_UNIX)
            s.connect(os.path.join(self.tmp, "m.sock"))
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            body = b""
            while chunk := s.recv(65536):
                body += chunk
            s.close()
            text = body.decode()
            self.assertIn("200 OK", text.splitlines()[0])
            self.assertIn('datanoded_requests_total{method="MatMul"} 6', text)
            self.assertIn('datanoded_errors_total{method="MatMul",cause="RESOURCE_EXHAUSTED"} %d'
                          % codes.count("RESOURCE_EXHAUSTED"), text)
            self.assertIn('datanoded_request_duration_seconds_count{method="MatMul"} 6', text)
            self.assertIn("datanoded_store_bytes 0", text)
        finally:
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
