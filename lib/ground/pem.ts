/**
 * PEM block extraction: finds `-----BEGIN X-----` … `-----END X-----` blocks
 * in text that may carry other text around them (as `openssl x509 -text`
 * writes), and decodes their base64 bodies.
 *
 * @module
 */

import { err, ok, type Result } from "./result.ts";

/** One decoded PEM block. */
export interface PemBlock {
  /** The label between `BEGIN` and the dashes, e.g. `CERTIFICATE`. */
  readonly label: string;
  /** The block re-encoded in canonical PEM form (64-column base64). */
  readonly pem: string;
  /** The decoded DER bytes of the block. */
  readonly der: Uint8Array<ArrayBuffer>;
  /** Whether the block carries RFC 1421 headers such as `Proc-Type`. */
  readonly hasHeaders: boolean;
}

/** Why a text could not be split into PEM blocks. */
export type PemProblem =
  | { readonly kind: "no_blocks" }
  | { readonly kind: "truncated"; readonly label: string }
  | { readonly kind: "bad_base64"; readonly label: string; readonly index: number };

const BEGIN_MARKER = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/]+={0,2}$/;
const PEM_LINE_WIDTH = 64;

/** Splits a text into its PEM blocks, in order; reports missing END lines and corrupt bodies. */
export function parsePemBlocks(text: string): Result<PemBlock[], PemProblem> {
  const blocks: PemBlock[] = [];
  for (const begin of text.matchAll(BEGIN_MARKER)) {
    const label = begin[1] ?? "";
    const bodyStart = begin.index + begin[0].length;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, bodyStart);
    const nextBegin = text.indexOf("-----BEGIN ", bodyStart);
    if (end === -1 || (nextBegin !== -1 && nextBegin < end)) {
      return err({ kind: "truncated", label });
    }
    const decoded = _decodeBody(text.slice(bodyStart, end));
    if (decoded === undefined) {
      return err({ kind: "bad_base64", label, index: blocks.length });
    }
    const { der, hasHeaders, base64 } = decoded;
    blocks.push({ label, der, hasHeaders, pem: encodePem(label, base64) });
  }
  return blocks.length === 0 ? err({ kind: "no_blocks" }) : ok(blocks);
}

function _decodeBody(
  body: string,
): { base64: string; der: Uint8Array<ArrayBuffer>; hasHeaders: boolean } | undefined {
  const lines = body.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  const hasHeaders = lines.some((line) => line.includes(":"));
  const base64 = lines.filter((line) => !line.includes(":")).join("");
  if (!BASE64_BODY.test(base64) || base64.length % 4 !== 0) return undefined;
  try {
    // Straight to bytes (atob would make a binary string first, then a copy).
    const der = Uint8Array.fromBase64(base64);
    return { base64, der, hasHeaders };
  } catch {
    return undefined;
  }
}

/** Writes base64 data as a PEM block with 64-column lines. */
export function encodePem(label: string, base64: string): string {
  const lines = [];
  for (let i = 0; i < base64.length; i += PEM_LINE_WIDTH) {
    lines.push(base64.slice(i, i + PEM_LINE_WIDTH));
  }
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
