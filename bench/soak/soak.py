#!/usr/bin/env python3
"""Soak and fault test of datanoded. Bounded, loopback only: one real daemon
on a temp Unix socket, driven by an independent Python client (grpcio-tools stubs).

usage: soak.py --datanoded PATH --proto DIR [--seconds 60] [--clients 16]
               [--rounds 5] [--out FILE] [--no-faults] [--gguf SMOLLM2.gguf]

Soak: --clients threads mix valid (inline and by-reference MatMul, blob upload and
download), invalid and oversized requests for --seconds. Checked: the daemon never
crashes, its resident memory (VmRSS, sampled every 0.25 s) stays under
memory_budget + pin_budget + its start-up RSS, every valid answer has the right digest
(numpy computes them independently), every invalid request gets INVALID_ARGUMENT or
NOT_FOUND and every oversized one RESOURCE_EXHAUSTED. Reported: RSS over time, counts
by request class and status code, p50/p99 latency of the answered valid calls.

Inference (--gguf): the same clients mix valid, cancelled and invalid Inference calls
on a daemon serving SmolLM2 (soak_inference).

Faults: disk full during import (a tmpfs of fixed size mounted in a private mount
namespace; skipped with a message where mounting is not permitted), SIGKILL during
import and during garbage collection (model deletion, start-up GC) --rounds times each,
and a corrupted chunk, which must be refused (DATA_LOSS), never served.
Exit status 0 only if every check passed.
"""
import argparse
import collections
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import numpy as np
from grpc_tools import protoc

MIB = 1 << 20
FAILURES = []


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return ok


def load_stubs(proto_dir):
    gen = tempfile.mkdtemp(prefix="dn_soak_stubs_")
    for p in ("accelerator", "store", "inference"):
        assert protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={gen}",
                            f"--grpc_python_out={gen}", f"{proto_dir}/datanode/v1/{p}.proto"]) == 0
    sys.path.insert(0, gen)
    global acc, acc_grpc, st, st_grpc
    from datanode.v1 import accelerator_pb2 as acc
    from datanode.v1 import accelerator_pb2_grpc as acc_grpc
    from datanode.v1 import store_pb2 as st
    from datanode.v1 import store_pb2_grpc as st_grpc
    global inf, inf_grpc
    from datanode.v1 import inference_pb2 as inf
    from datanode.v1 import inference_pb2_grpc as inf_grpc
    return gen


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Daemon:
    """datanoded with its own config; `wrap` prefixes the command (e.g. unshare)."""

    def __init__(self, binary, root, extra="", store=None, wrap=None):
        os.makedirs(root, exist_ok=True)
        self.binary, self.root, self.wrap = binary, root, wrap
        self.sock = os.path.join(root, "d.sock")
        self.config = os.path.join(root, "d.conf")
        with open(self.config, "w") as f:
            f.write(f'socket_path: "{self.sock}"\nmetrics_socket_path: ""\n'
                    f'store_root: "{store or root + "/store"}"\nlog_level: "warn"\n'
                    f'drain_timeout_seconds: 1\n{extra}')
        self.proc = None

    def start(self, wait=True):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.log = open(os.path.join(self.root, "d.log"), "a")  # noqa: SIM115
        cmd = [self.binary, "--config", self.config]
        if self.wrap:
            cmd = self.wrap(cmd)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.channel = grpc.insecure_channel("unix:" + self.sock, options=[
            ("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
        self.acc = acc_grpc.AcceleratorStub(self.channel)
        self.store = st_grpc.StoreStub(self.channel)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        deadline = time.time() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None:
                raise RuntimeError(f"datanoded exited at start-up: {self.log_tail()}")
            if time.time() > deadline:
                raise RuntimeError("datanoded did not start")
            time.sleep(0.02)
        return self.acc.GetNodeInfo(acc.GetNodeInfoRequest(), timeout=30, wait_for_ready=True)

    def pid(self):
        """The daemon's pid (the child of a wrapper such as unshare, if any)."""
        if not self.wrap:
            return self.proc.pid
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                kids = f.read().split()
            return int(kids[0]) if kids else self.proc.pid
        except OSError:
            return self.proc.pid

    def log_tail(self):
        with open(os.path.join(self.root, "d.log"), errors="replace") as f:
            return f.read()[-1500:]

    def kill(self):
        self.channel.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self):
        self.channel.close()
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        self.log.close()
        return rc


def rpc(fn, *args, **kw):
    """(code, response or details, seconds)."""
    start = time.monotonic()
    try:
        r = fn(*args, **kw)
        return grpc.StatusCode.OK, r, time.monotonic() - start
    except grpc.RpcError as e:
        return e.code(), e.details(), time.monotonic() - start


def s8_digest(a, w):
    return hashlib.sha256((a.astype(np.int32) @ w.astype(np.int32).T).astype("<i4").tobytes()).hexdigest()


def s8_req(m, n, k, a, w=None, ref=None, tensor="w"):
    r = acc.MatMulRequest(op=acc.OP_KIND_MATMUL_S8_S32, m=m, n=n, k=k, a=np.asarray(a).tobytes())
    if ref is None:
        r.inline_weights.w = np.asarray(w).tobytes()
    else:
        r.weight_ref.model_digest, r.weight_ref.tensor = ref, tensor
    return r


def write_safetensors(path, tensors):
    """tensors: name -> int8 array. The format written by hand (8-byte header length,
    JSON header padded to 8 bytes, data)."""
    header, off, blobs = {}, 0, []
    for name, t in tensors.items():
        b = np.ascontiguousarray(t).tobytes()
        header[name] = {"dtype": "I8", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little") + h)
        for b in blobs:
            f.write(b)


def put_blob(store, data, piece=MIB):
    def gen():
        for i in range(0, max(len(data), 1), piece):
            yield st.PutBlobRequest(data=data[i:i + piece], last=i + piece >= len(data))
    return store.PutBlob(gen(), timeout=60)


def object_digest(data):
    """A store object's name (docs/store.md): SHA-256 of its manifest text."""
    mib = 1 << 20
    text = "datanode-object v2\nsize %d\n" % len(data) + "".join(
        "chunk %s\n" % hashlib.sha256(data[i:i + mib]).hexdigest() for i in range(0, len(data), mib))
    return hashlib.sha256(text.encode()).hexdigest()


def get_blob(store, digest):
    return b"".join(r.data for r in store.GetBlob(st.GetBlobRequest(digest=digest), timeout=60))


# ---------------------------------------------------------------------------------- soak

class Mix:
    """Precomputed requests with their expected outcome, by class."""

    def __init__(self, rng, model_digest, w_ref):
        self.valid_inline, self.valid_ref, self.big = [], [], []
        for _ in range(24):
            m, n, k = (int(x) for x in rng.integers(1, [64, 128, 512], endpoint=True))
            a = rng.integers(-127, 128, (m, k), dtype=np.int8)
            w = rng.integers(-127, 128, (n, k), dtype=np.int8)
            self.valid_inline.append((s8_req(m, n, k, a, w), s8_digest(a, w)))
        n, k = w_ref.shape
        for m in (1, 3, 17, 64, 200, 512):
            a = rng.integers(-127, 128, (m, k), dtype=np.int8)
            self.valid_ref.append((s8_req(m, n, k, a, ref=model_digest), s8_digest(a, w_ref)))
        # 8 MiB outputs: each reserves ~16 MiB of the budget, so a few at once fill it.
        a = rng.integers(-127, 128, (2048, 64), dtype=np.int8)
        w = rng.integers(-127, 128, (1024, 64), dtype=np.int8)
        self.big.append((s8_req(2048, 1024, 64, a, w), s8_digest(a, w)))
        ones = np.ones
        minus = rng.integers(-127, 128, (4, 32), dtype=np.int8)
        minus[2, 7] = -128
        short = s8_req(4, 4, 32, ones((4, 32), np.int8), ones((4, 32), np.int8))
        short.a = short.a[:-1]
        empty = acc.MatMulRequest(op=acc.OP_KIND_MATMUL_S8_S32, m=1 << 20, n=4096, k=1,
                                  inline_weights=acc.InlineWeights(w=b""))
        big_k = s8_req(1, 1, 131072, ones((1, 131072), np.int8), ones((1, 131072), np.int8))
        no_op = acc.MatMulRequest(m=1, n=1, k=1, a=b"\x01", inline_weights=acc.InlineWeights(w=b"\x01"))
        missing = s8_req(1, n, k, ones((1, k), np.int8), ref=model_digest, tensor="nope")
        bad_digest = s8_req(1, n, k, ones((1, k), np.int8), ref="xyz")
        self.invalid = [(s8_req(4, 4, 32, minus, ones((4, 32), np.int8)), "-128"), (short, "A"),
                        (empty, "operand A has 0 bytes"), (big_k, "K"), (no_op, "op"),
                        (missing, "no tensor"), (bad_digest, "digest")]
        self.oversized = [
            s8_req(131073, 4096, 1, ones((131073, 1), np.int8), ones((4096, 1), np.int8)),
            s8_req(1 << 20, 4096, 1, ones((1 << 20, 1), np.int8), ones((4096, 1), np.int8)),
            s8_req(16384, 4096, 1, ones((16384, 1), np.int8), ones((4096, 1), np.int8)),
        ]
        self.blobs = [rng.bytes(int(s)) for s in rng.integers(1, 3 * MIB, 6)]


def soak(args, tmp, report):
    budget, pin, reply_cap = 128 * MIB, 16 * MIB, 32 * MIB
    d = Daemon(args.datanoded, os.path.join(tmp, "soak"),
               f"executor_threads: 4\npin_budget_bytes: {pin}\n"
               f"limits {{ memory_budget_bytes: {budget} max_reply_bytes: {reply_cap} "
               f"max_in_flight: 1024 max_ops_per_second: 1e9 }}\n").start()
    rng = np.random.default_rng(2026)
    w_ref = rng.integers(-127, 128, (64, 256), dtype=np.int8)
    model_file = os.path.join(tmp, "soak_model.safetensors")
    write_safetensors(model_file, {"w": w_ref})
    model = d.store.ImportModel(st.ImportModelRequest(path=model_file), timeout=60).digest
    mix = Mix(rng, model, w_ref)
    pid = d.pid()
    start_rss = status_kib(pid, "VmRSS") / 1024
    bound = start_rss + (budget + pin) / MIB
    counts = collections.Counter()
    latency = collections.defaultdict(list)
    unexpected = []
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds
    samples = []

    def sample():
        t0 = time.monotonic()
        while time.monotonic() < stop + 0.5:
            if d.proc.poll() is not None:
                return
            samples.append((time.monotonic() - t0, status_kib(pid, "VmRSS") / 1024))
            time.sleep(0.25)

    def client(seed):
        r = random.Random(seed)
        while time.monotonic() < stop:
            x = r.random()
            if x < 0.40:
                cls, (req, want) = "valid_inline", r.choice(mix.valid_inline)
            elif x < 0.55:
                cls, (req, want) = "valid_ref", r.choice(mix.valid_ref)
            elif x < 0.65:
                cls, (req, want) = "valid_big", r.choice(mix.big)
            elif x < 0.80:
                cls, (req, want) = "invalid", r.choice(mix.invalid)
            elif x < 0.95:
                cls, req, want = "oversized", r.choice(mix.oversized), None
            else:
                cls, req, want = "blob", r.choice(mix.blobs), None
            if cls == "blob":
                code, resp, dt = rpc(put_blob, d.store, req)
                if code == grpc.StatusCode.OK:
                    code2, got, dt2 = rpc(get_blob, d.store, resp.digest)
                    ok = code2 == grpc.StatusCode.OK and got == req
                    code, resp, dt = (code2, got, dt + dt2) if ok or code2 != grpc.StatusCode.OK \
                        else ("WRONG_BYTES", "blob read back differs", dt + dt2)
            else:
                code, resp, dt = rpc(d.acc.MatMul, req, timeout=120)
            name = code.name if hasattr(code, "name") else str(code)
            bad = None
            if cls in ("valid_inline", "valid_ref", "valid_big", "blob"):
                if code == grpc.StatusCode.OK:
                    if cls != "blob" and (resp.output_digest != want or
                                          hashlib.sha256(resp.out).hexdigest() != want):
                        bad = f"{cls}: wrong digest"
                elif not (code == grpc.StatusCode.RESOURCE_EXHAUSTED and "memory budget" in resp):
                    bad = f"{cls}: {name} {resp}"
            elif cls == "invalid":
                if code not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
                    bad = f"invalid ({want}): {name} {resp}"
            elif code != grpc.StatusCode.RESOURCE_EXHAUSTED:
                bad = f"oversized: {name} {resp if code != grpc.StatusCode.OK else ''}"
            with lock:
                counts[(cls, name)] += 1
                if code == grpc.StatusCode.OK:
                    latency[cls].append(dt)
                if bad:
                    unexpected.append(bad)

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sampler.join()
    alive = d.proc.poll() is None and rpc(d.acc.GetNodeInfo, acc.GetNodeInfoRequest(),
                                          timeout=10)[0] == grpc.StatusCode.OK
    hwm = status_kib(pid, "VmHWM") / 1024
    rc = d.stop() if alive else d.proc.poll()

    out = report.append
    out(f"## soak: {args.clients} clients, {args.seconds} s, one datanoded (cpu backend, "
        f"executor_threads 4)")
    out(f"limits: memory_budget {budget // MIB} MiB, pin_budget {pin // MIB} MiB, "
        f"max_reply {reply_cap // MIB} MiB; RSS bound = start RSS {start_rss:.0f} MiB + budget "
        f"+ pin = {bound:.0f} MiB")
    out("")
    out("RSS over time (MiB, max per 5 s window):")
    buckets = collections.OrderedDict()
    for t, rss in samples:
        buckets[int(t // 5) * 5] = max(buckets.get(int(t // 5) * 5, 0), rss)
    out("  " + "  ".join(f"{t:>3}s:{v:.0f}" for t, v in buckets.items()))
    max_rss = max((v for _, v in samples), default=0)
    out(f"max sampled RSS {max_rss:.0f} MiB, VmHWM {hwm:.0f} MiB, samples {len(samples)}")
    out("")
    out("requests by class and status code:")
    for cls in ("valid_inline", "valid_ref", "valid_big", "blob", "invalid", "oversized"):
        row = {k[1]: v for k, v in counts.items() if k[0] == cls}
        out(f"  {cls:<13} " + ", ".join(f"{c} {n}" for c, n in sorted(row.items())))
    by_code = collections.Counter()
    for (_, code), n in counts.items():
        by_code[code] += n
    out("errors by code (all classes): " + ", ".join(f"{c} {n}" for c, n in sorted(by_code.items())
                                                      if c != "OK"))
    total = sum(counts.values())
    out(f"total {total} requests, {total / args.seconds:.0f}/s")
    out("")
    out("latency of answered valid calls (ms):")
    every = []
    for cls in ("valid_inline", "valid_ref", "valid_big", "blob"):
        xs = sorted(latency[cls])
        every += xs
        if xs:
            out(f"  {cls:<13} n {len(xs):>6}  p50 {1e3 * xs[len(xs) // 2]:8.2f}  "
                f"p99 {1e3 * xs[min(len(xs) - 1, int(len(xs) * 0.99))]:8.2f}")
    every.sort()
    if every:
        out(f"  {'all valid':<13} n {len(every):>6}  p50 {1e3 * every[len(every) // 2]:8.2f}  "
            f"p99 {1e3 * every[min(len(every) - 1, int(len(every) * 0.99))]:8.2f}")
    out(f"unexpected outcomes: {len(unexpected)}" + "".join(f"\n  {u}" for u in unexpected[:10]))
    out(f"daemon alive at the end: {alive}, exit status on SIGTERM: {rc}")
    check(alive, "the daemon died during the soak")
    check(rc == 0, f"the daemon exited {rc} on SIGTERM")
    check(not unexpected, f"{len(unexpected)} unexpected outcomes, e.g. {unexpected[:3]}")
    check(max_rss <= bound and hwm <= bound, f"RSS {max_rss:.0f} / HWM {hwm:.0f} MiB over {bound:.0f}")
    for cls in ("valid_inline", "valid_ref", "invalid", "oversized"):
        check(counts[(cls, "OK" if cls.startswith("valid") else
                      ("RESOURCE_EXHAUSTED" if cls == "oversized" else "INVALID_ARGUMENT"))] > 0,
              f"no {cls} request got its expected answer")


def soak_inference(args, tmp, report):
    """--gguf: --clients threads mix Inference calls on one daemon for --seconds: one-call
    Generate (4 greedy tokens: every answer must have the first answer's tokens digest),
    Tokenize, open sessions (create, generate, close), streams cancelled after their first
    token, and invalid requests (unknown or malformed digest, a safetensors model,
    max_tokens 0, a prompt beyond the context, too many sessions). Afterwards every
    session slot must be free again, the daemon alive, and RSS within
    start + memory budget + pin budget."""
    budget, pin, max_sessions = 512 * MIB, 16 * MIB, 4
    d = Daemon(args.datanoded, os.path.join(tmp, "inference"),
               f"executor_threads: 4\npin_budget_bytes: {pin}\nbackend_threads: 1\n"
               f"limits {{ memory_budget_bytes: {budget} max_in_flight: 1024 "
               f"max_ops_per_second: 1e9 }}\ninference {{ max_sessions: {max_sessions} "
               f"max_context_length: 256 default_context_length: 64 max_tokens_per_call: 16 }}\n").start()
    stub = inf_grpc.InferenceStub(d.channel)
    model = d.store.ImportModel(st.ImportModelRequest(path=args.gguf), timeout=120).digest
    other = os.path.join(tmp, "inference_other.safetensors")
    write_safetensors(other, {"w": np.ones((4, 32), np.int8)})
    safetensors = d.store.ImportModel(st.ImportModelRequest(path=other), timeout=60).digest
    pid = d.pid()
    start_rss = status_kib(pid, "VmRSS") / 1024
    bound = start_rss + (budget + pin) / MIB
    prompt = inf.TokenIds(ids=[1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1,
                               520, 9531, 198])
    first = stub.Generate(inf.GenerateRequest(model_digest=model, token_ids=prompt,
                                              max_tokens=4), timeout=300)
    want = [m.done.tokens_digest for m in first if m.HasField("done")][0]
    counts = collections.Counter()
    unexpected = []
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds
    max_rss = [0.0]

    def generate(req, cancel_after_first=False):
        call = stub.Generate(req, timeout=300)
        digest = None
        try:
            for m in call:
                if cancel_after_first and m.HasField("token"):
                    call.cancel()
                    return grpc.StatusCode.CANCELLED, None
                if m.HasField("done"):
                    digest = m.done.tokens_digest
            return grpc.StatusCode.OK, digest
        except grpc.RpcError as e:
            return e.code(), e.details()

    def client(seed):
        r = random.Random(seed)
        while time.monotonic() < stop:
            x = r.random()
            ok_codes = (grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED)
            if x < 0.30:
                cls = "generate"
                code, got = generate(inf.GenerateRequest(model_digest=model, token_ids=prompt,
                                                         max_tokens=4))
                bad = (code == grpc.StatusCode.OK and got != want) or code not in ok_codes
            elif x < 0.45:
                cls = "tokenize"
                code, got, _ = rpc(stub.Tokenize, inf.TokenizeRequest(
                    model_digest=model, text="What is the capital of France?", chat=True),
                    timeout=60)
                bad = code != grpc.StatusCode.OK or list(got.token_ids) != list(prompt.ids)
            elif x < 0.60:
                cls = "session"
                code, got, _ = rpc(stub.CreateSession, inf.CreateSessionRequest(
                    model_digest=model, context_length=64), timeout=60)
                bad = code not in ok_codes
                if code == grpc.StatusCode.OK:
                    sid = got.session_id
                    code, got = generate(inf.GenerateRequest(session_id=sid, token_ids=prompt,
                                                             max_tokens=4))
                    bad = code not in ok_codes or (code == grpc.StatusCode.OK and got != want)
                    c2 = rpc(stub.CloseSession, inf.CloseSessionRequest(session_id=sid))[0]
                    bad = bad or c2 != grpc.StatusCode.OK
            elif x < 0.70:
                cls = "cancelled"
                code, _ = generate(inf.GenerateRequest(model_digest=model, token_ids=prompt,
                                                       max_tokens=16), cancel_after_first=True)
                bad = code not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED)
            else:
                cls = "invalid"
                req, expect = r.choice([
                    (inf.GenerateRequest(model_digest="ab" * 32, token_ids=prompt, max_tokens=4),
                     grpc.StatusCode.NOT_FOUND),
                    (inf.GenerateRequest(model_digest="xyz", token_ids=prompt, max_tokens=4),
                     grpc.StatusCode.INVALID_ARGUMENT),
                    (inf.GenerateRequest(model_digest=safetensors, token_ids=prompt, max_tokens=4),
                     grpc.StatusCode.UNIMPLEMENTED),
                    (inf.GenerateRequest(model_digest=model, token_ids=prompt, max_tokens=0),
                     grpc.StatusCode.INVALID_ARGUMENT),
                    (inf.GenerateRequest(model_digest=model, token_ids=inf.TokenIds(
                        ids=[260] * 300), max_tokens=1), grpc.StatusCode.OUT_OF_RANGE),
                    (inf.GenerateRequest(session_id="0" * 32, token_ids=prompt, max_tokens=1),
                     grpc.StatusCode.NOT_FOUND),
                ])
                code, got = generate(req)
                bad = code != expect
            if bad:
                print(f"inference {cls}: {code} {got}", flush=True)
            with lock:
                counts[(cls, code.name)] += 1
                max_rss[0] = max(max_rss[0], status_kib(pid, "VmRSS") / 1024)
                if bad:
                    unexpected.append(f"{cls}: {code.name} {got}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every session slot is free again (cancelled streams freed theirs).
    free = 0
    deadline = time.monotonic() + 30
    sessions = []
    while len(sessions) < max_sessions and time.monotonic() < deadline:
        code, got, _ = rpc(stub.CreateSession, inf.CreateSessionRequest(model_digest=model,
                                                                         context_length=16))
        if code == grpc.StatusCode.OK:
            sessions.append(got.session_id)
        else:
            time.sleep(0.1)
    free = len(sessions)
    for sid in sessions:
        rpc(stub.CloseSession, inf.CloseSessionRequest(session_id=sid))
    alive = d.proc.poll() is None
    hwm = status_kib(pid, "VmHWM") / 1024
    rc = d.stop() if alive else d.proc.poll()
    out = report.append
    out("")
    out(f"## inference soak: {args.clients} clients, {args.seconds} s, SmolLM2 (cpu, 1 thread), "
        f"max_sessions {max_sessions}, memory_budget {budget // MIB} MiB")
    for cls in ("generate", "tokenize", "session", "cancelled", "invalid"):
        row = {k[1]: v for k, v in counts.items() if k[0] == cls}
        out(f"  {cls:<10} " + ", ".join(f"{c} {n}" for c, n in sorted(row.items())))
    out(f"tokens digest of every answered generation: {want[:16]}...; session slots free "
        f"afterwards: {free} of {max_sessions}")
    out(f"max sampled RSS {max_rss[0]:.0f} MiB, VmHWM {hwm:.0f} MiB, bound {bound:.0f} MiB")
    out(f"unexpected outcomes: {len(unexpected)}" + "".join(f"\n  {u}" for u in unexpected[:10]))
    check(alive and rc == 0, f"inference soak: daemon alive {alive}, exit status {rc}")
    check(not unexpected, f"inference soak: {len(unexpected)} unexpected, e.g. {unexpected[:3]}")
    check(free == max_sessions, f"inference soak: only {free} of {max_sessions} sessions free")
    check(hwm <= bound, f"inference soak: VmHWM {hwm:.0f} MiB over {bound:.0f}")
    check(counts[("generate", "OK")] > 0, "inference soak: no generation answered")


# -------------------------------------------------------------------------------- faults

def model_file(tmp, name, mib, seed):
    path = os.path.join(tmp, name)
    if not os.path.exists(path):
        w = np.random.default_rng(seed).integers(-127, 128, (mib * 256, 4096), dtype=np.int8)
        write_safetensors(path, {"w": w})
    return path


def consistent(d, what):
    """Every model and object the store lists is served whole with the right digest,
    and nothing is ever served with wrong bytes."""
    ok = True
    code, models, _ = rpc(d.store.ListModels, st.ListModelsRequest(), timeout=30)
    ok &= check(code == grpc.StatusCode.OK, f"{what}: ListModels {code}")
    for m in (models.models if ok else []):
        code, info, _ = rpc(d.store.GetModel, st.GetModelRequest(digest=m.digest), timeout=30)
        ok &= check(code == grpc.StatusCode.OK, f"{what}: GetModel {m.digest[:12]} {code} {info}")
    code, blobs, _ = rpc(d.store.ListBlobs, st.ListBlobsRequest(), timeout=30)
    ok &= check(code == grpc.StatusCode.OK, f"{what}: ListBlobs {code}")
    for b in (blobs.blobs if code == grpc.StatusCode.OK else []):
        code, data, _ = rpc(get_blob, d.store, b.digest)
        ok &= check(code == grpc.StatusCode.OK and object_digest(data) == b.digest,
                    f"{what}: blob {b.digest[:12]} {code}")
    return ok


def fault_disk_full(args, tmp, report):
    root = os.path.join(tmp, "diskfull")
    mnt = os.path.join(root, "mnt")
    os.makedirs(mnt, exist_ok=True)
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs -o size=1m tmpfs {mnt}"], capture_output=True, text=True)
    if probe.returncode != 0:
        report.append(f"disk full during import: SKIPPED (cannot mount a tmpfs here: "
                      f"{probe.stderr.strip()})")
        return

    def wrap(cmd):  # the daemon runs in a private mount namespace with a 24 MiB store
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'mount -t tmpfs -o size=24m tmpfs "{mnt}" && exec "$0" "$@"'] + cmd

    d = Daemon(args.datanoded, root, store=os.path.join(mnt, "store"), wrap=wrap).start()
    big = model_file(tmp, "m40.safetensors", 40, 1)
    code, detail, dt = rpc(d.store.ImportModel, st.ImportModelRequest(path=big), timeout=120)
    check(code == grpc.StatusCode.RESOURCE_EXHAUSTED,
          f"disk full: a 40 MiB import into 24 MiB answered {code} {detail}")
    info = d.acc.GetNodeInfo(acc.GetNodeInfoRequest(), timeout=10)
    check(info.store_used_bytes < MIB, f"disk full: {info.store_used_bytes} bytes left behind")
    consistent(d, "after disk full")
    small = model_file(tmp, "m4.safetensors", 4, 2)
    code2, m, _ = rpc(d.store.ImportModel, st.ImportModelRequest(path=small), timeout=120)
    check(code2 == grpc.StatusCode.OK, f"disk full: a 4 MiB import afterwards answered {code2} {m}")
    if code2 == grpc.StatusCode.OK:
        w = np.random.default_rng(2).integers(-127, 128, (4 * 256, 4096), dtype=np.int8)
        a = np.ones((1, 4096), np.int8)
        c3, r, _ = rpc(d.acc.MatMul, s8_req(1, 1024, 4096, a, ref=m.digest), timeout=60)
        check(c3 == grpc.StatusCode.OK and r.output_digest == s8_digest(a, w),
              f"disk full: MatMul on the model imported afterwards {c3}")
    check(d.stop() == 0, "disk full: the daemon did not stop cleanly")
    report.append(f"disk full during import (tmpfs size=24m, 40 MiB model): {code.name} in "
                  f"{dt:.2f} s ({detail}); store used afterwards {info.store_used_bytes} B; "
                  f"a 4 MiB import then {code2.name}")


def fault_kill_import(args, tmp, report):
    big = model_file(tmp, "m24.safetensors", 24, 3)
    ref = Daemon(args.datanoded, os.path.join(tmp, "killimp_ref")).start()
    t0 = time.monotonic()
    want = ref.store.ImportModel(st.ImportModelRequest(path=big), timeout=120).digest
    clean_s = time.monotonic() - t0
    ref.stop()
    d = Daemon(args.datanoded, os.path.join(tmp, "killimp"))
    r = random.Random(5)
    killed_at = []
    for i in range(args.rounds):
        d.start()
        fut = d.store.ImportModel.future(st.ImportModelRequest(path=big), timeout=120)
        delay = r.uniform(0.05, 0.6) * clean_s  # inside the import, by a clean one's time
        time.sleep(delay)
        killed_at.append(f"{delay:.2f}s{'' if not fut.done() else '(done)'}")
        d.kill()
        d.start()
        consistent(d, f"kill during import, round {i}")
        # Start every round from an empty store, so each kill lands in a fresh import.
        for mm in d.store.ListModels(st.ListModelsRequest(), timeout=30).models:
            d.store.DeleteModel(st.DeleteModelRequest(digest=mm.digest), timeout=60)
        d.stop()
    d.start()
    code, m, _ = rpc(d.store.ImportModel, st.ImportModelRequest(path=big), timeout=120)
    check(code == grpc.StatusCode.OK and m.digest == want,
          f"kill during import: the import afterwards gave {code} {getattr(m, 'digest', m)}")
    consistent(d, "kill during import, final")
    check(d.stop() == 0, "kill during import: unclean stop")
    report.append(f"SIGKILL during import of a 24 MiB model (a clean import takes {clean_s:.2f} s), "
                  f"{args.rounds} rounds (killed after "
                  f"{', '.join(killed_at)}): store consistent after every restart; the import "
                  f"afterwards {code.name}, same model digest as a clean import: "
                  f"{code == grpc.StatusCode.OK and m.digest == want}")


def fault_kill_gc(args, tmp, report):
    big = model_file(tmp, "m24.safetensors", 24, 3)
    d = Daemon(args.datanoded, os.path.join(tmp, "killgc"))
    r = random.Random(6)
    notes = []
    for i in range(args.rounds):
        d.start()
        m = d.store.ImportModel(st.ImportModelRequest(path=big), timeout=120)
        fut = d.store.DeleteModel.future(st.DeleteModelRequest(digest=m.digest), timeout=60)
        time.sleep(r.uniform(0.0, 0.02))
        d.kill()
        # Start-up garbage collection reclaims what the deletion left; kill that too.
        d.start(wait=False)
        time.sleep(r.uniform(0.0, 0.1))
        d.kill()
        d.start()
        consistent(d, f"kill during GC, round {i}")
        notes.append("deleted" if fut.done() and fut.exception() is None else "interrupted")
        for mm in d.store.ListModels(st.ListModelsRequest(), timeout=30).models:
            d.store.DeleteModel(st.DeleteModelRequest(digest=mm.digest), timeout=60)
        d.stop()
    d.start()
    used = d.acc.GetNodeInfo(acc.GetNodeInfoRequest(), timeout=10).store_used_bytes
    left = len(d.store.ListBlobs(st.ListBlobsRequest(), timeout=30).blobs)
    check(used == 0 and left == 0, f"kill during GC: {used} bytes / {left} objects never reclaimed")
    check(d.stop() == 0, "kill during GC: unclean stop")
    report.append(f"SIGKILL during model deletion and again during start-up GC, {args.rounds} "
                  f"rounds ({', '.join(notes)}): store consistent after every restart; after "
                  f"deleting what was left: {used} bytes, {left} objects")


def fault_corrupt_chunk(args, tmp, report):
    root = os.path.join(tmp, "corrupt")
    d = Daemon(args.datanoded, root).start()
    big = model_file(tmp, "m4.safetensors", 4, 2)
    m = d.store.ImportModel(st.ImportModelRequest(path=big), timeout=120)
    blob = d.store.StatBlob(st.StatBlobRequest(digest=m.source_digest), timeout=30)
    chunk = blob.chunks[len(blob.chunks) // 2]
    path = os.path.join(root, "store", "chunks", chunk[:2], chunk)
    d.stop()
    with open(path, "r+b") as f:
        f.seek(12345)
        b = f.read(1)
        f.seek(12345)
        f.write(bytes([b[0] ^ 0x01]))
    d.start()
    c1, detail1, _ = rpc(get_blob, d.store, m.source_digest)
    a = np.ones((1, 4096), np.int8)
    c2, detail2, _ = rpc(d.acc.MatMul, s8_req(1, 1024, 4096, a, ref=m.digest), timeout=60)
    check(c1 == grpc.StatusCode.DATA_LOSS, f"corrupt chunk: GetBlob answered {c1}")
    check(c2 == grpc.StatusCode.DATA_LOSS, f"corrupt chunk: MatMul by reference answered {c2}")
    check(rpc(d.acc.GetNodeInfo, acc.GetNodeInfoRequest(), timeout=10)[0] == grpc.StatusCode.OK,
          "corrupt chunk: the daemon stopped answering")
    check(d.stop() == 0, "corrupt chunk: unclean stop")
    report.append(f"corrupted chunk (one bit of chunk {len(blob.chunks) // 2} of "
                  f"{len(blob.chunks)}): GetBlob {c1.name}, MatMul by reference {c2.name}; "
                  f"never served")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datanoded", required=True)
    p.add_argument("--proto", required=True)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out")
    p.add_argument("--no-faults", action="store_true")
    p.add_argument("--gguf", help="also soak the Inference service with this llama GGUF "
                   "(SmolLM2-135M-Instruct)")
    args = p.parse_args()
    gen = load_stubs(args.proto)
    tmp = tempfile.mkdtemp(prefix="dn_soak_")
    report = [f"# datanoded soak and fault test, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
              f"machine: {platform.node()}, {os.cpu_count()} CPUs "
              f"({open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}), "
              f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
              f"{platform.system()} {platform.release()}; shared with other builds, so timings are noisy",
              f"command: {' '.join(sys.argv)}", ""]
    try:
        soak(args, tmp, report)
        if args.gguf:
            soak_inference(args, tmp, report)
        if not args.no_faults:
            report += ["", "## faults"]
            for f in (fault_disk_full, fault_kill_import, fault_kill_gc, fault_corrupt_chunk):
                t0 = time.monotonic()
                try:
                    f(args, tmp, report)
                except Exception as e:  # noqa: BLE001 (a fault test must report, not hide)
                    check(False, f"{f.__name__}: {type(e).__name__}: {e}")
                report[-1] += f" [{time.monotonic() - t0:.1f} s]"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(gen, ignore_errors=True)
    report += ["", f"RESULT: {'PASS' if not FAILURES else 'FAIL'}"] + [f"  {x}" for x in FAILURES]
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0 if not FAILURES else 1


if __name__ == "__main__":
    sys.exit(main())
