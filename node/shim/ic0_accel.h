/* Copyright 2026 The datanode Authors.
 *
 * ic0_accel: the C ABI a replica's execution layer links to give canisters the data
 * node (node/shim/datanode.did). Version IC0_ACCEL_ABI_VERSION.
 *
 * FLOW. The replica routes a canister's call to one of the interface's methods
 * ("accel_matmul", "accel_list_models", "accel_price", "accel_generate") to
 * ic0_accel_call() with the
 * Candid argument bytes and the cycles attached. The library decodes and validates the
 * argument, prices it (docs/canister-api.md), calls the node's datanoded over gRPC on
 * its Unix socket, and returns either a Candid reply plus the cycles to charge (the
 * rest is refunded by the replica) or an IC reject code and message. The replica then
 * hashes the outcome (ic0_accel_result_digest), signs it with the node key
 * (ic0_accel_sign_share), and accepts it once n - f replicas signed the same digest
 * (C++: node/shim/agreement.h, Combine).
 *
 * VERIFIED MODE (ABI 3; docs/canister-api.md "Verified mode"). An accel_matmul whose
 * MatMulArgs.mode is `verified` is not run by ic0_accel_call (which rejects it with
 * DESTINATION_INVALID); the replica asks ic0_accel_call_mode() first and, for
 * IC0_ACCEL_MODE_VERIFIED, runs the call in one of two roles on every replica:
 *   1. ic0_accel_verified_pick(): the computing node, from the random beacon and the
 *      subnet's eviction record (the same on every replica).
 *   2. The computing node's replica: ic0_accel_verified_compute() -> the answer (opaque
 *      bytes: the output and its exact sums), gossiped to the other replicas.
 *   3. Every other replica: ic0_accel_verified_check() on that answer -> its daemon's
 *      signed verdict ("verified/rejected digest D", D = SHA-256 of the output),
 *      gossiped.
 *   4. Every replica: ic0_accel_verified_combine() on the answer and the verdicts that
 *      consensus agreed on -> the canister's reply (charged the verified price) or a
 *      reject: SYS_TRANSIENT naming the computing node when more than f verifiers caught
 *      it, when its answer is missing or malformed, or with too few verdicts.
 * The request digest that binds the verdicts is ic0_accel_request_digest() of the call.
 * All three make the same checks as ic0_accel_call first (Candid, values, price, reply
 * size, cycles), so a call its caller got wrong gives the same reject, with the reject
 * fee, in every role on every replica, whatever the daemons do; the replica agrees on it
 * like on any other outcome.
 * An accel_generate with GenerateArgs.mode = verified has no verified roles yet:
 * ic0_accel_call_mode() answers REPLICATED for it and ic0_accel_call() refuses it with
 * DESTINATION_INVALID, nothing charged (it is never run replicated instead).
 *
 * REJECT CODES (the IC's): 0 = reply, 1 SYS_FATAL, 2 SYS_TRANSIENT, 3 DESTINATION_INVALID,
 * 4 CANISTER_REJECT, 5 CANISTER_ERROR. Which failure gives which code is listed in
 * datanode.did; in short: bad Candid / too large -> 5; bad values, unknown model or
 * tensor, too few cycles -> 4; unknown method or no data node configured -> 3; daemon
 * absent, busy or slow, or the node not admitted to required_class -> 2; node-side
 * corruption or internal error -> 1. An
 * accel_matmul rejected with 4 or 5 charges the reject fee of docs/canister-api.md
 * (node/shim/pricing.h, RejectFee), at most the cycles attached; other rejects charge
 * nothing.
 *
 * THREADING. An ic0_accel handle is thread-safe: any number of threads may call
 * ic0_accel_call() and the ic0_accel_verified_* functions on one handle concurrently (each call is
 * independent; the daemon connection is shared). ic0_accel_destroy() must not race with any other
 * call on the same handle. The digest, share and free functions are reentrant.
 *
 * BLOCKING. ic0_accel_call() blocks the calling thread for at most the configured
 * timeout per daemon RPC (accel_list_models makes one RPC per model; accel_generate
 * makes three, its streaming Generate allowed one more second per requested token).
 * Call it from a
 * thread that may block, never from a latency-critical one. ic0_accel_verified_compute
 * and _check make one RPC (two with required_class) and block alike; ic0_accel_call_mode,
 * _verified_combine and _verified_pick never call the daemon.
 *
 * LIFETIMES AND OWNERSHIP. Every input pointer is borrowed for the duration of the call
 * only; nothing is retained (the config's strings are copied). Every output buffer in
 * an ic0_accel_result is allocated by the library and owned by the caller until it
 * passes the result to ic0_accel_result_free(), exactly once; freeing a zeroed result
 * is a no-op. Do not free its buffers with free(). A handle is owned by whoever created
 * it and released with ic0_accel_destroy().
 *
 * ERRORS. No function throws, aborts or exits on bad input: hostile Candid, null
 * pointers and wrong sizes are reported through the return value.
 */
#ifndef DATANODE_NODE_SHIM_IC0_ACCEL_H_
#define DATANODE_NODE_SHIM_IC0_ACCEL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: ic0_accel_config.required_class. 3: verified mode (ic0_accel_call_mode,
 * ic0_accel_verified_*); the config's layout is version 2's, and ic0_accel_create accepts
 * both 2 and 3, so a replica built against version 2 keeps working unchanged. */
#define IC0_ACCEL_ABI_VERSION 3

/* The library is built with hidden visibility; only these functions are exported. */
#if defined(IC0_ACCEL_BUILDING)
#define IC0_ACCEL_API __attribute__((visibility("default")))
#else
#define IC0_ACCEL_API
#endif

#define IC0_ACCEL_REPLY 0
#define IC0_ACCEL_SYS_FATAL 1
#define IC0_ACCEL_SYS_TRANSIENT 2
#define IC0_ACCEL_DESTINATION_INVALID 3
#define IC0_ACCEL_CANISTER_REJECT 4
#define IC0_ACCEL_CANISTER_ERROR 5

typedef struct ic0_accel ic0_accel; /* opaque */

typedef struct ic0_accel_config {
  /* IC0_ACCEL_ABI_VERSION (or 2, the same layout): other versions are refused. */
  uint32_t abi_version;
  /* gRPC target of the node's daemon, e.g. "unix:/run/ic-node/datanode/socket" (a
   * bare path means a Unix socket). NULL or "" = this subnet has no data node: calls
   * that need one are rejected with DESTINATION_INVALID. Copied. Nothing connects
   * until the first call that needs the daemon. */
  const char* daemon_address;
  /* n in the price formula: replicas of this subnet. Must be >= 1. */
  uint32_t subnet_size;
  /* Deadline of each daemon RPC in milliseconds; 0 = 10000. */
  uint32_t timeout_ms;
  /* Largest Candid argument accepted; 0 = 2 MiB (the IC's inter-canister limit). */
  uint64_t max_arg_bytes;
  /* Largest Candid reply produced; 0 = 2 MiB. */
  uint64_t max_reply_bytes;
  /* The device class this subnet's data nodes must hold (docs/admission.md), e.g.
   * "gpu"; copied. NULL or "" = none required. When set, every accel_matmul and
   * accel_generate first asks the daemon which class the node holds (GetNodeInfo) and
   * is rejected with SYS_TRANSIENT, naming the class, unless it is this one: a node
   * that failed an admission re-check is out of its class until it passes again. */
  const char* required_class;
} ic0_accel_config;

/* The outcome of one call. Zero-initialise it before the first use. */
typedef struct ic0_accel_result {
  uint32_t reject_code; /* IC0_ACCEL_REPLY or a reject code */
  /* reject_code == 0: the Candid-encoded reply. Otherwise: the reject message, UTF-8,
   * followed by a NUL that data_len does not count. Owned by the result. */
  uint8_t* data;
  size_t data_len;
  /* Cycles to charge (a 128-bit number split in halves): the price of a reply, the
   * reject fee of a CANISTER_REJECT / CANISTER_ERROR accel_matmul or accel_generate,
   * else 0. */
  uint64_t cycles_charged_low;
  uint64_t cycles_charged_high;
} ic0_accel_result;

/* Creates a handle. Returns 0 and sets *out, or returns -1, leaves *out NULL and writes
 * a NUL-terminated reason into error (error_len bytes at most; error may be NULL). */
IC0_ACCEL_API int ic0_accel_create(const ic0_accel_config* config, ic0_accel** out, char* error,
                                   size_t error_len);

/* Releases a handle (NULL is a no-op). In-flight calls must have returned. */
IC0_ACCEL_API void ic0_accel_destroy(ic0_accel* accel);

/* Runs `method` (method_len bytes, not NUL-terminated) with the Candid argument
 * arg[0..arg_len) and the attached cycles (128 bits: low and high halves). Fills *result
 * (which must be zeroed or already freed) and returns result->reject_code. A NULL
 * accel, method or result returns SYS_FATAL without touching anything. */
IC0_ACCEL_API uint32_t ic0_accel_call(const ic0_accel* accel, const char* method, size_t method_len,
                                      const uint8_t* arg, size_t arg_len, uint64_t cycles_low,
                                      uint64_t cycles_high, ic0_accel_result* result);

/* Frees the result's buffers and zeroes it. */
IC0_ACCEL_API void ic0_accel_result_free(ic0_accel_result* result);

/* SHA-256 of the call (method, argument bytes, the replica's call id) and of its
 * outcome (code + reply or message): the two digests a share signs. out: 32 bytes. */
IC0_ACCEL_API void ic0_accel_request_digest(const char* method, size_t method_len,
                                            const uint8_t* arg, size_t arg_len, uint64_t call_id,
                                            uint8_t out[32]);
IC0_ACCEL_API void ic0_accel_result_digest(const ic0_accel_result* result, uint8_t out[32]);

/* Signs a share with the node's Ed25519 key given as its 32-byte seed (RFC 8032);
 * writes the 32-byte public key (may be NULL) and the 64-byte signature. Returns 0,
 * or -1 if signing failed. */
IC0_ACCEL_API int ic0_accel_sign_share(const uint8_t seed[32], const uint8_t request_digest[32],
                                       const uint8_t result_digest[32], uint8_t public_key[32],
                                       uint8_t signature[64]);

/* 1 if `signature` is node `public_key`'s share for (request_digest, result_digest). */
IC0_ACCEL_API int ic0_accel_verify_share(const uint8_t public_key[32],
                                         const uint8_t request_digest[32],
                                         const uint8_t result_digest[32],
                                         const uint8_t signature[64]);

/* --- Verified mode (ABI 3) ------------------------------------------------------- */

#define IC0_ACCEL_MODE_REPLICATED 0
#define IC0_ACCEL_MODE_VERIFIED 1

/* IC0_ACCEL_MODE_VERIFIED for an accel_matmul whose argument decodes (within the
 * handle's max_arg_bytes) with mode = verified; IC0_ACCEL_MODE_REPLICATED for every other
 * call, malformed ones and a verified accel_generate included (ic0_accel_call rejects
 * those as documented). Pure: no daemon. A NULL accel or method is REPLICATED. */
IC0_ACCEL_API uint32_t ic0_accel_call_mode(const ic0_accel* accel, const char* method,
                                           size_t method_len, const uint8_t* arg, size_t arg_len);

/* The computing node of a verified call: the (beacon mod m)-th of the m nodes not
 * evicted, in index order. evicted: n bytes, nonzero = taken out of the draw by a fault
 * record (NULL = none). Returns 0 and sets *computing_node, or -1 when n is 0, every node
 * is evicted, or computing_node is NULL. */
IC0_ACCEL_API int ic0_accel_verified_pick(uint64_t beacon, const uint8_t* evicted, uint32_t n,
                                          uint32_t* computing_node);

/* One verifier's verdict on the computing node's answer, as signed by its daemon's node
 * key over (domain, request digest, D, accepted). Plain data: copy it to gossip it. */
typedef struct ic0_accel_verdict {
  uint32_t node;             /* the verifier's index in the subnet's key list */
  uint32_t accepted;         /* 1: "verified digest D", 0: "rejected digest D" */
  uint8_t output_digest[32]; /* D */
  uint8_t signature[64];     /* Ed25519 */
} ic0_accel_verdict;

/* The computing replica's part: runs accel_matmul's argument on its daemon with exact
 * sums. Returns IC0_ACCEL_REPLY with result->data = the answer to gossip (opaque bytes,
 * owned by the result) and nothing charged, or a reject as ic0_accel_call would give
 * (with the reject fee for the caller's faults); a call not in verified mode is
 * SYS_FATAL. The reject's message names what failed; the other replicas then see no
 * answer. */
IC0_ACCEL_API uint32_t ic0_accel_verified_compute(const ic0_accel* accel, const uint8_t* arg,
                                                  size_t arg_len, uint64_t cycles_low,
                                                  uint64_t cycles_high, ic0_accel_result* result);

/* A verifying replica's part: node `node` checks the answer (answer[0..answer_len), from
 * the computing replica) of computing node `computing_node` on its daemon, for the call
 * whose ic0_accel_request_digest is request_digest, in the subnet's epoch `epoch`.
 * Returns IC0_ACCEL_REPLY and fills *verdict (to gossip), with result->data = the
 * verifier's reason (UTF-8, NUL-terminated; empty when it accepted; for logs, not
 * signed). Otherwise a reject and *verdict is untouched: the caller's faults as
 * ic0_accel_call (with the fee), a malformed answer SYS_TRANSIENT naming the computing
 * node, node == computing_node or a verdict that is not for this answer SYS_FATAL, the
 * daemon's errors as for ic0_accel_call. NULL pointers (but answer with answer_len 0):
 * SYS_FATAL; a NULL result returns SYS_FATAL without touching anything. */
IC0_ACCEL_API uint32_t ic0_accel_verified_check(
    const ic0_accel* accel, const uint8_t* arg, size_t arg_len, uint64_t cycles_low,
    uint64_t cycles_high, const uint8_t request_digest[32], uint32_t node, uint32_t computing_node,
    uint64_t epoch, const uint8_t* answer, size_t answer_len, ic0_accel_verdict* verdict,
    ic0_accel_result* result);

/* Every replica: the canister's outcome. public_keys: the subnet's n node keys (32 bytes
 * each, node i at i * 32), n must be the config's subnet_size; evicted: n bytes or NULL,
 * as for ic0_accel_verified_pick (their verdicts never count; n - f stays the subnet's);
 * answer: the computing node's (answer_len 0: none arrived); verdicts: those consensus
 * agreed on. Returns IC0_ACCEL_REPLY with the Candid MatMulReply (the answer's output,
 * bit for bit the replicated call's) and cycles_charged = the verified price, once n - f
 * verifiers other than the computing node signed "verified digest D". Otherwise a
 * reject, nothing charged: SYS_TRANSIENT with a message naming the computing node
 * ("computing node i answered wrongly" when more than f verifiers rejected it; also when
 * its answer is missing or malformed) and the verifiers that accepted, rejected, were
 * invalid or missing; SYS_FATAL for n != subnet_size or computing_node >= n; the
 * caller's faults as ic0_accel_call (with the fee). Never calls the daemon.
 * NULL pointers (but answer, verdicts or evicted with a zero length / when optional):
 * SYS_FATAL; a NULL result returns SYS_FATAL without touching anything. */
IC0_ACCEL_API uint32_t ic0_accel_verified_combine(
    const ic0_accel* accel, const uint8_t* arg, size_t arg_len, uint64_t cycles_low,
    uint64_t cycles_high, const uint8_t request_digest[32], const uint8_t* public_keys, uint32_t n,
    const uint8_t* evicted, uint32_t computing_node, const uint8_t* answer, size_t answer_len,
    const ic0_accel_verdict* verdicts, size_t verdict_count, ic0_accel_result* result);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DATANODE_NODE_SHIM_IC0_ACCEL_H_ */
