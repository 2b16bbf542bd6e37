#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Cross-checks the shim's hand-written Candid codec against icp-py-core (PyPI).

Usage: candid_crosscheck.py <candid_vector_tool> <datanode.did> [vectors_per_type]

1. datanode.did, parsed by icp-py-core's DIDLoader, declares exactly the types the C++
   interface (node/shim/interface.cc) uses.
2. C++ -> Python: for every type, values generated and encoded by the C++ codec decode
   in icp-py-core to the same value.
3. Python -> C++: values generated here and encoded by icp-py-core decode in the C++
   codec to the same value.
4. Subtyping a canister may rely on: an extra record field is skipped, a missing opt
   field reads as absent.
5. Mutated messages (flipped bytes, truncations) never crash the C++ decoder, and
   whenever icp-py-core rejects such a message as malformed, the C++ decoder does too
   (unless it is a case icp-py-core lets through by design, such as trailing bytes).
"""
import json
import random
import subprocess
import sys

try:
    from icp_candid import DIDLoader, Types, decode, encode
    from icp_candid import candid as C
except ImportError as e:  # pragma: no cover
    print(f"icp-py-core is not installed ({e}); pip install icp-py-core", file=sys.stderr)
    sys.exit(1)


def resolve(t):
    return t.get_type() if isinstance(t, C.RecClass) else t


def prim_name(t):
    t = resolve(t)
    if isinstance(t, C.FixedNatClass):
        return f"nat{t._bits}"
    if isinstance(t, C.FixedIntClass):
        return f"int{t._bits}"
    for cls, name in ((C.NatClass, "nat"), (C.IntClass, "int"), (C.TextClass, "text"),
                      (C.BoolClass, "bool"), (C.NullClass, "null"),
                      (C.ReservedClass, "reserved")):
        if isinstance(t, cls):
            return name
    return None


def type_text(t):
    """The same text rendering as candid::TypeToString (fields in id order)."""
    t = resolve(t)
    p = prim_name(t)
    if p:
        return p
    if isinstance(t, C.OptClass):
        return "opt " + type_text(t._type)
    if isinstance(t, C.VecClass):
        return "blob" if t._is_blob else "vec " + type_text(t._type)
    if isinstance(t, C.RecordClass):
        parts = [f"{t._field_map[h][0]} : {type_text(t._field_map[h][1])}" for h in t._sorted_hashes]
        return "record {" + "; ".join(parts) + "}"
    if isinstance(t, C.VariantClass):
        parts = []
        for h in t._sorted_hashes:
            name, ft = t._field_map[h]
            parts.append(name if isinstance(resolve(ft), C.NullClass) else f"{name} : {type_text(ft)}")
        return "variant {" + "; ".join(parts) + "}"
    raise ValueError(f"unexpected type {t}")


def render(t, v):
    """icp-py-core value -> the JSON rendering the C++ tool prints."""
    t = resolve(t)
    if prim_name(t) in ("null", "reserved"):
        return None
    if prim_name(t):
        return v
    if isinstance(t, C.OptClass):
        return [] if v in (None, []) else [render(t._type, v[0] if isinstance(v, list) else v)]
    if isinstance(t, C.VecClass):
        return bytes(v).hex() if t._is_blob else [render(t._type, x) for x in v]
    if isinstance(t, C.RecordClass):
        return {t._field_map[h][0]: render(t._field_map[h][1], v[t._field_map[h][0]])
                for h in t._sorted_hashes}
    if isinstance(t, C.VariantClass):
        (tag, payload), = v.items()
        ft = t._field_map[C.get_field_hash(tag)][1]
        return {tag: render(ft, payload)}
    raise ValueError(f"unexpected type {t}")


TEXT_PIECES = ["blk.0.ffn_up.weight", "ö", "权重", "🧮", "\\\"", "\t", "z"]


def gen(t, rng, mode):
    """A random icp-py-core value of type t; mode 0 = smallest, 1 = largest, 2 = random."""
    t = resolve(t)
    if isinstance(t, C.FixedNatClass):
        hi = (1 << t._bits) - 1
        return 0 if mode == 0 else hi if mode == 1 else rng.randint(0, hi) >> rng.randint(0, t._bits)
    if isinstance(t, C.NatClass):
        hi = (1 << 128) - 1
        return 0 if mode == 0 else hi if mode == 1 else rng.getrandbits(rng.randint(1, 128))
    if isinstance(t, C.TextClass):
        n = 0 if mode == 0 else 10 if mode == 1 else rng.randint(0, 5)
        return "".join(rng.choice(TEXT_PIECES) for _ in range(n))
    if isinstance(t, C.BoolClass):
        return mode == 1 or (mode == 2 and rng.random() < 0.5)
    if isinstance(t, C.OptClass):
        if mode == 0 or (mode == 2 and rng.random() < 0.5):
            return []
        return [gen(t._type, rng, mode)]
    if isinstance(t, C.VecClass):
        if t._is_blob:
            n = 0 if mode == 0 else 513 if mode == 1 else rng.randint(0, 80)
            return bytes(rng.getrandbits(8) for _ in range(n))
        n = 0 if mode == 0 else 3 if mode == 1 else rng.randint(0, 3)
        return [gen(t._type, rng, mode) for _ in range(n)]
    if isinstance(t, C.RecordClass):
        return {name: gen(ft, rng, mode) for name, ft in t._field_map.values()}
    if isinstance(t, C.VariantClass):
        hashes = t._sorted_hashes
        h = hashes[0] if mode == 0 else hashes[-1] if mode == 1 else rng.choice(hashes)
        name, ft = t._field_map[h]
        return {name: None if isinstance(resolve(ft), C.NullClass) else gen(ft, rng, mode)}
    raise ValueError(f"unexpected type {t}")


class Tool:
    def __init__(self, path):
        self.p = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  encoding="utf-8")

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise RuntimeError(f"candid_vector_tool died (exit {self.p.wait()}) on: {line[:200]}")
        return out.rstrip("\n")

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait()
        if rc != 0:
            raise RuntimeError(f"candid_vector_tool exited with {rc}")


def main():
    tool_path, did_path = sys.argv[1], sys.argv[2]
    per_type = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    did = DIDLoader()
    with open(did_path, encoding="utf-8") as f:
        service = did.load_did_source(f.read())
    env = did.type_env
    tool = Tool(tool_path)
    failures = []
    counts = {"types": 0, "cpp_to_py": 0, "py_to_cpp": 0, "same_bytes": 0, "subtyping": 0,
              "mutations": 0, "both_reject": 0}

    # 1. The .did and the C++ interface declare the same types.
    tool.p.stdin.write("types\n")
    tool.p.stdin.flush()
    cpp_types = {}
    while (line := tool.p.stdout.readline().rstrip("\n")) != "end":
        name, text = line.split(" ", 1)
        cpp_types[name] = text
    if set(cpp_types) != set(env):
        failures.append(f"type names differ: C++ {sorted(cpp_types)} vs .did {sorted(env)}")
    for name in sorted(set(cpp_types) & set(env)):
        if cpp_types[name] != type_text(env[name]):
            failures.append(f"{name}: C++ {cpp_types[name]} != .did {type_text(env[name])}")
        counts["types"] += 1
    # The methods use these types (arguments and results of every method).
    for mname, f in service["methods"].items():
        for t in f.argTypes + f.retTypes:
            if type_text(t) not in cpp_types.values():
                failures.append(f"{mname}: type {type_text(t)} unknown to the C++ interface")

    rng = random.Random(7)
    for name in sorted(set(cpp_types) & set(env)):
        t = env[name]
        for seed in range(per_type):
            # 2. C++ -> Python.
            hexbytes, cpp_json = tool.ask(f"gen {name} {seed}").split(" ", 1)
            expected = json.loads(cpp_json)
            try:
                got = render(t, decode(bytes.fromhex(hexbytes), t)[0]["value"])
            except Exception as e:  # noqa: BLE001 - any decoding failure is a finding
                failures.append(f"{name} seed {seed}: icp-py-core cannot decode C++ bytes: {e}")
                continue
            if got != expected:
                failures.append(f"{name} seed {seed}: C++->py mismatch {got} != {expected}")
            counts["cpp_to_py"] += 1
            # 3. Python -> C++.
            value = gen(t, rng, seed if seed < 2 else 2)
            pybytes = encode([{"type": t, "value": value}])
            answer = tool.ask(f"decode {name} {pybytes.hex()}")
            if not answer.startswith("ok "):
                failures.append(f"{name}: C++ cannot decode icp-py-core bytes {pybytes.hex()}: {answer}")
                continue
            if json.loads(answer[3:]) != render(t, value):
                failures.append(f"{name}: py->C++ mismatch {answer[3:]} != {render(t, value)}")
            counts["py_to_cpp"] += 1
            # Same value, same bytes? (Not required by the spec: type tables may differ.)
            again = tool.ask(f"decode {name} {hexbytes}")
            if again.startswith("ok ") and json.loads(again[3:]) == render(t, value):
                counts["same_bytes"] += hexbytes == pybytes.hex()

            # 5. Mutations of the Python-encoded message.
            if seed % 4 == 0 and len(pybytes) > 4:
                for _ in range(5):
                    m = bytearray(pybytes)
                    kind = rng.randrange(3)
                    if kind == 0:
                        m[rng.randrange(4, len(m))] ^= 1 << rng.randrange(8)
                    elif kind == 1:
                        del m[rng.randrange(4, len(m)):]
                    else:
                        m.insert(rng.randrange(4, len(m)), rng.getrandbits(8))
                    answer = tool.ask(f"decode {name} {bytes(m).hex()}")  # must not crash
                    counts["mutations"] += 1
                    try:
                        decode(bytes(m), t)
                        py_ok = True
                    except Exception:  # noqa: BLE001
                        py_ok = False
                    if not py_ok and answer.startswith("ok "):
                        failures.append(f"{name}: C++ accepted {bytes(m).hex()} that icp-py-core rejects")
                    counts["both_reject"] += (not py_ok) and answer.startswith("err ")

    # 4. Subtyping: an extra record field is ignored; a missing opt field is absent.
    targs = resolve(env["MatMulArgs"])
    fields = {name: ft for name, ft in targs._field_map.values()}
    value = gen(targs, rng, 2)
    wider = Types.Record({**fields, "future_field": Types.Text})
    b = encode([{"type": wider, "value": {**value, "future_field": "ignored"}}])
    answer = tool.ask(f"decode MatMulArgs {b.hex()}")
    if not answer.startswith("ok ") or json.loads(answer[3:]) != render(targs, value):
        failures.append(f"extra field: {answer}")
    counts["subtyping"] += 1
    narrower = Types.Record({k: v for k, v in fields.items() if k != "a_scale"})
    b = encode([{"type": narrower, "value": {k: v for k, v in value.items() if k != "a_scale"}}])
    answer = tool.ask(f"decode MatMulArgs {b.hex()}")
    if not answer.startswith("ok ") or json.loads(answer[3:])["a_scale"] != []:
        failures.append(f"missing opt field: {answer}")
    counts["subtyping"] += 1
    narrower = Types.Record({k: v for k, v in fields.items() if k != "a"})
    b = encode([{"type": narrower, "value": {k: v for k, v in value.items() if k != "a"}}])
    answer = tool.ask(f"decode MatMulArgs {b.hex()}")
    if not answer.startswith("err "):
        failures.append(f"missing required field accepted: {answer}")
    counts["subtyping"] += 1

    tool.close()
    print(json.dumps(counts))
    for f in failures[:30]:
        print("FAIL:", f)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("candid cross-check OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
