/**
 * A seeded, reproducible fuzz test of the loader: thousands of random and
 * mutated inputs (flipped bytes, cuts at random offsets, duplicated and
 * reordered blocks, CRLF line ends, huge headers, random bytes), each through
 * the pure parser and a share of them through files. Every input must give a
 * `Result` that the formatter can word: no exception, no hang.
 */

import assert from "node:assert/strict";
import {
  type CertificateError,
  loadCertificate,
  parseCertificate,
} from "../lib/certificate/certificate.ts";
import { describeError } from "../lib/format.ts";
import { mintCertificate, mintChain, TempDir } from "./_fixtures.ts";

const SEED = 0x5eed_2026;
const CASES = 4_000;
const THROUGH_FILES_EVERY = 20;

/** mulberry32: a small seeded PRNG, so that a failure can be replayed from its case number. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const encoder = new TextEncoder();

Deno.test("the loader returns a worded Result for thousands of random and mutated inputs, never throwing", async () => {
  const random = prng(SEED);
  const int = (below: number) => Math.floor(random() * below);
  const { root, intermediate, leaf } = await mintChain();
  const single = await mintCertificate();
  const seeds = [
    leaf.certificatePem + intermediate.certificatePem + root.certificatePem,
    single.certificatePem,
    single.certificatePem + single.keyPem,
  ];
  const blocks = seeds[0]?.match(/-----BEGIN [\s\S]+?-----END [A-Z ]+-----\n/g) ?? [];
  const mutations: ((text: string) => Uint8Array)[] = [
    (text) => {
      const bytes = encoder.encode(text);
      for (let n = 1 + int(8); n > 0; n--) {
        const at = int(bytes.length);
        bytes[at] = (bytes[at] ?? 0) ^ (1 << int(8));
      }
      return bytes;
    },
    (text) => encoder.encode(text.slice(0, int(text.length))),
    (text) => encoder.encode(text.slice(int(text.length))),
    () =>
      encoder.encode(Array.from({ length: 1 + int(5) }, () => blocks[int(blocks.length)]).join("")),
    (text) => encoder.encode(text.replaceAll("\n", "\r\n")),
    (text) => encoder.encode(`-----BEGIN ${"X".repeat(int(100_000))}-----\n${text}`),
    (text) =>
      encoder.encode(
        text.replace(/-----BEGIN CERTIFICATE-----\n/, `$&Proc-Type: 4,${"A".repeat(int(5000))}\n`),
      ),
    () => Uint8Array.from({ length: int(3000) }, () => int(256)),
    (text) => {
      const bytes = encoder.encode(text);
      const at = int(bytes.length);
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1 + int(64))]);
    },
  ];
  const kinds = new Map<string, number>();
  await using dir = await TempDir.create();
  const keyPath = await dir.write("key.pem", single.keyPem);
  for (let n = 0; n < CASES; n++) {
    const seed = seeds[int(seeds.length)] as string;
    const mutate = mutations[int(mutations.length)] as (text: string) => Uint8Array;
    const bytes = mutate(seed);
    const withKey = int(2) === 1;
    let result;
    try {
      result = n % THROUGH_FILES_EVERY === 0
        ? await loadCertificate({
          cert: await dir.write("cert.pem", bytes),
          key: withKey ? keyPath : undefined,
        })
        : await parseCertificate({
          certPath: "cert.pem",
          certBytes: bytes,
          keyPath: withKey ? "key.pem" : undefined,
          keyBytes: withKey ? encoder.encode(single.keyPem) : undefined,
        }, new Date());
    } catch (error) {
      assert.fail(`case ${n} (seed ${SEED}) threw: ${error}`);
    }
    assert.equal(typeof result.ok, "boolean", `case ${n}`);
    const kind = result.ok ? "ok" : (result.error as CertificateError).kind;
    if (!result.ok) assert.ok(describeError(result.error).length > 0, `case ${n}`);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  assert.ok(kinds.size >= 6, `the mutations reach many outcomes: ${JSON.stringify([...kinds])}`);
});
