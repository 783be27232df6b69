/**
 * A seeded, reproducible fuzz test of the loader: thousands of random and
 * mutated inputs (flipped bytes, cuts at random offsets, duplicated and
 * reordered blocks, CRLF line ends, huge headers, random bytes), each through
 * the pure parser and a share of them through files; then damaged DER (flipped
 * bytes, cuts, broken lengths, inserted noise) in valid PEM, for the X.509 and
 * key readers. Every input must give a `Result` that the formatter can word: no
 * exception, no hang.
 */

import assert from "node:assert/strict";
import {
  type CertificateError,
  loadCertificate,
  parseCertificate,
} from "../lib/certificate/certificate.ts";
import { describeError } from "../lib/certificate/describe_error.ts";
import { encodePem, parsePemBlocks, type PemBlock } from "../lib/ground/pem.ts";
import { mintCertificate, mintChain, TempDir } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

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

test("the loader returns a worded Result for thousands of random and mutated inputs, never throwing", async () => {
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

/** The blocks of a PEM text, which must parse. */
function pemBlocks(pem: string): PemBlock[] {
  const blocks = parsePemBlocks(pem);
  if (!blocks.ok) throw new Error(`not PEM: ${blocks.error.kind}`);
  return blocks.value;
}

function toPem(label: string, der: Uint8Array): string {
  return encodePem(label, der.toBase64());
}

test("the X.509 and key readers return a worded Result for thousands of damaged DER certificates and keys, never throwing", async () => {
  const random = prng(SEED + 1);
  const int = (below: number) => Math.floor(random() * below);
  const { root, intermediate, leaf } = await mintChain();
  const chain = pemBlocks(leaf.certificatePem + intermediate.certificatePem + root.certificatePem);
  const [key] = pemBlocks(leaf.keyPem);
  const damage: ((der: Uint8Array) => Uint8Array)[] = [
    (der) => {
      const bytes = der.slice();
      for (let n = 1 + int(4); n > 0; n--) {
        const at = int(bytes.length);
        bytes[at] = (bytes[at] ?? 0) ^ (1 << int(8));
      }
      return bytes;
    },
    (der) => der.slice(0, int(der.length)),
    (der) => {
      const bytes = der.slice();
      const at = int(bytes.length - 1);
      bytes[at + 1] = [0x80, 0x84, 0xff, 0x00, 0x81][int(5)] as number; // a length octet
      return bytes;
    },
    (der) => {
      const at = int(der.length);
      const noise = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
      return Uint8Array.from([...der.subarray(0, at), ...noise, ...der.subarray(at)]);
    },
  ];
  const kinds = new Map<string, number>();
  for (let n = 0; n < 3_000; n++) {
    const target = int(chain.length + 1); // one certificate of the chain, or the key
    const mutate = damage[int(damage.length)] as (der: Uint8Array) => Uint8Array;
    const certs = chain.map((block, i) =>
      toPem(block.label, i === target ? mutate(block.der) : block.der)
    );
    const keyDer = target === chain.length ? mutate(key?.der ?? new Uint8Array()) : key?.der;
    let result;
    try {
      result = await parseCertificate({
        certPath: "cert.pem",
        certBytes: encoder.encode(certs.join("")),
        keyPath: "key.pem",
        keyBytes: encoder.encode(toPem("PRIVATE KEY", keyDer ?? new Uint8Array())),
      }, new Date());
    } catch (error) {
      assert.fail(`case ${n} (seed ${SEED + 1}) threw: ${error}`);
    }
    const kind = result.ok ? "ok" : result.error.kind;
    if (!result.ok) assert.ok(describeError(result.error).length > 0, `case ${n}`);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  for (const kind of ["invalid_certificate", "chain_broken", "key_invalid"]) {
    assert.ok(kinds.has(kind), `the damage reaches ${kind}: ${JSON.stringify([...kinds])}`);
  }
});
