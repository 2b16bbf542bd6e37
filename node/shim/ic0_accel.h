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
 * ic0_accel_call() on one handle concurrently (each call is independent; the daemon
 * connection is shared). ic0_accel_destroy() must not race with any other call on the
 * same handle. The digest, share and free functions are reentrant.
 *
 * BLOCKING. ic0_accel_call() blocks the calling thread for at most the configured
 * timeout per daemon RPC (accel_list_models makes one RPC per model; accel_generate
 * makes three, its streaming Generate allowed one more second per requested token).
 * Call it from a
 * thread that may block, never from a latency-critical one.
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

/* 2: ic0_accel_config.required_class. */
#define IC0_ACCEL_ABI_VERSION 2

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
  /* Must be IC0_ACCEL_ABI_VERSION: a library built for another layout refuses it. */
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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DATANODE_NODE_SHIM_IC0_ACCEL_H_ */
