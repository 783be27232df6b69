/**
 * DER, the binary encoding of X.509 certificates and keys: reading elements
 * (bounds-checked, so damaged input is a {@linkcode DerError} and never a read
 * past the end), decoding the few value types certificates use, and encoding
 * the three element types a key needs to be re-wrapped as PKCS #8.
 *
 * @module
 */

/** Bytes on an ordinary `ArrayBuffer`, as WebCrypto takes them. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Universal tags of the element types the loader reads. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The tag of a context-specific element `[n]`, constructed (EXPLICIT) or not. */
export function contextTag(n: number, constructed: boolean): number {
  return (constructed ? 0xa0 : 0x80) | n;
}

/** Malformed DER: what was expected and not found. Caught where the bytes are parsed. */
export class DerError extends Error {
  /** Always `DerError`. */
  override name = "DerError";
}

/** One DER element: its tag, its whole encoding, and its contents. */
export interface DerElement {
  /** The identifier octet, e.g. `0x30` for a SEQUENCE. */
  readonly tag: number;
  /** The whole element, header included (what a signature or fingerprint covers). */
  readonly encoded: Bytes;
  /** The contents, without the header. */
  readonly contents: Bytes;
}

/** Reads the element at `offset`; throws {@linkcode DerError} when it runs past the end. */
export function readElement(bytes: Bytes, offset = 0): DerElement {
  if (offset + 2 > bytes.length) throw new DerError("an element is cut short");
  const tag = bytes[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError("a multi-byte tag, which X.509 does not use");
  let length = bytes[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError("an indefinite or oversized length");
    if (start + count > bytes.length) throw new DerError("a length is cut short");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[start + i] as number);
    start += count;
  }
  const end = start + length;
  if (end > bytes.length) throw new DerError("an element runs past the end of its data");
  return {
    tag,
    encoded: bytes.subarray(offset, end),
    contents: bytes.subarray(start, end),
  };
}

/** Reads an element that must fill `bytes` exactly and carry `tag`. */
export function readWhole(bytes: Bytes, tag: number): DerElement {
  const element = expectTag(readElement(bytes), tag);
  if (element.encoded.length !== bytes.length) throw new DerError("data follows the element");
  return element;
}

/** The elements inside a constructed element, in order. */
export function childrenOf(element: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = 0; offset < element.contents.length;) {
    const child = readElement(element.contents, offset);
    children.push(child);
    offset += child.encoded.length;
  }
  return children;
}

/** Returns the element when it carries `tag`; throws {@linkcode DerError} otherwise. */
export function expectTag(element: DerElement | undefined, tag: number): DerElement {
  if (element === undefined) throw new DerError(`a missing element (tag 0x${_hex(tag)})`);
  if (element.tag !== tag) {
    throw new DerError(`tag 0x${_hex(element.tag)} where 0x${_hex(tag)} belongs`);
  }
  return element;
}

/** The dotted form of an OBJECT IDENTIFIER, e.g. `2.5.4.3`. */
export function decodeOid(element: DerElement): string {
  const bytes = expectTag(element, TAG.OID).contents;
  if (bytes.length === 0 || (bytes[bytes.length - 1] as number) & 0x80) {
    throw new DerError("an object identifier is cut short");
  }
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) {
      throw new DerError("an object identifier arc is too large");
    }
    if (byte & 0x80) continue;
    if (arcs.length === 0) {
      arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
    } else arcs.push(value);
    value = 0;
  }
  return arcs.join(".");
}

/** The unsigned magnitude of an INTEGER, without its leading zero octets. */
export function integerMagnitude(element: DerElement): Bytes {
  const bytes = expectTag(element, TAG.INTEGER).contents;
  if (bytes.length === 0) throw new DerError("an empty integer");
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

/**
 * An INTEGER as OpenSSL prints a serial number: uppercase hex of its magnitude in whole octets,
 * `-` first when it is negative (`-05`, not the two's complement `FB`).
 */
export function integerHex(element: DerElement): string {
  const bytes = expectTag(element, TAG.INTEGER).contents;
  if (bytes.length === 0) throw new DerError("an empty integer");
  if (((bytes[0] as number) & 0x80) === 0) return toHex(integerMagnitude(element));
  // Two's complement: the magnitude is the complement plus one.
  const magnitude = new Uint8Array(bytes.length);
  let carry = 1;
  for (let i = bytes.length - 1; i >= 0; i--) {
    const value = (~(bytes[i] as number) & 0xff) + carry;
    magnitude[i] = value & 0xff;
    carry = value >> 8;
  }
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  return `-${toHex(magnitude.subarray(start))}`;
}

/**
 * UTCTime as OpenSSL and rustls read it: `YYMMDDHHMM`, optional seconds, then `Z`, an offset
 * `+hhmm`/`-hhmm` or nothing (taken as UTC). DER asks for seconds and `Z`; issued certificates
 * that leave them out still exist.
 */
const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?()(Z|[+-]\d{4})?$/;
/** GeneralizedTime likewise: `YYYYMMDDHHMM`, optional seconds and fraction, then `Z`, an offset or nothing. */
const GENERALIZED_TIME =
  /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{4})?$/;
const MS_PER_MINUTE = 60_000;
/** UTCTime's two-digit years below this are 20YY, the rest 19YY (RFC 5280 §4.1.2.5.1). */
const UTC_TIME_PIVOT = 50;

/**
 * The instant of a UTCTime or GeneralizedTime, read as OpenSSL reads it (seconds may be left out,
 * an offset from UTC is applied, a missing `Z` means UTC, fractions of a second are kept to the
 * millisecond).
 */
export function decodeTime(element: DerElement): Date {
  const text = latin1(element.contents);
  const match = element.tag === TAG.UTC_TIME
    ? UTC_TIME.exec(text)
    : element.tag === TAG.GENERALIZED_TIME
    ? GENERALIZED_TIME.exec(text)
    : null;
  if (match === null) throw new DerError(`a malformed time "${text}"`);
  const [year, month, day, hour, minute, second = 0] = match.slice(1, 7).map((part) =>
    part === undefined ? undefined : Number(part)
  ) as [number, number, number, number, number, number | undefined];
  const fraction = match[7] ?? "";
  const milliseconds = fraction === "" ? 0 : Number(fraction.slice(0, 3).padEnd(3, "0"));
  const fullYear = element.tag === TAG.UTC_TIME
    ? (year < UTC_TIME_PIVOT ? 2000 : 1900) + year
    : year;
  const local = new Date(Date.UTC(fullYear, month - 1, day, hour, minute, second, milliseconds));
  if (
    local.getUTCFullYear() !== fullYear || local.getUTCMonth() !== month - 1 ||
    local.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59
  ) {
    throw new DerError(`a time that is not a date "${text}"`);
  }
  const zone = match[8];
  if (zone === undefined || zone === "Z") return local;
  const offset = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5));
  if (Number(zone.slice(3, 5)) > 59) throw new DerError(`a time with a bad offset "${text}"`);
  const sign = zone.startsWith("-") ? -1 : 1;
  return new Date(local.getTime() - sign * offset * MS_PER_MINUTE);
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });
/** Made on first use: BMPStrings are rare, and every decoder touches memory at its first use. */
let utf16be: TextDecoder | undefined;

/** The text of a directory string (UTF8, Printable, Numeric, IA5, T61, BMP, Universal, Visible). */
export function decodeString(element: DerElement): string {
  try {
    switch (element.tag) {
      case TAG.UTF8_STRING:
        return UTF8.decode(element.contents);
      case TAG.BMP_STRING:
        utf16be ??= new TextDecoder("utf-16be", { fatal: true });
        return utf16be.decode(element.contents);
      case TAG.UNIVERSAL_STRING:
        return _utf32be(element.contents);
      case TAG.PRINTABLE_STRING:
      case TAG.NUMERIC_STRING:
      case TAG.IA5_STRING:
      case TAG.VISIBLE_STRING:
      case TAG.T61_STRING:
        return latin1(element.contents);
    }
  } catch {
    throw new DerError("a string that is not valid in its encoding");
  }
  throw new DerError(`tag 0x${_hex(element.tag)} where a string belongs`);
}

/** Uppercase hexadecimal of bytes, optionally separated, e.g. `AB:CD`. */
export function toHex(bytes: Bytes, separator = ""): string {
  return Array.from(bytes, (byte) => _hex(byte)).join(separator);
}

/** Encodes one element from its tag and contents. */
export function encodeElement(tag: number, ...parts: readonly Bytes[]): Bytes {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const header = length < 0x80 ? [tag, length] : [tag, ..._lengthOctets(length)];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  let offset = header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Encodes a dotted OBJECT IDENTIFIER. */
export function encodeOid(dotted: string): Bytes {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number);
  const octets: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const group = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
      group.unshift((value & 0x7f) | 0x80);
    }
    octets.push(...group);
  }
  return encodeElement(TAG.OID, new Uint8Array(octets));
}

function _lengthOctets(length: number): number[] {
  const octets: number[] = [];
  for (let value = length; value > 0; value = Math.floor(value / 256)) octets.unshift(value & 0xff);
  return [0x80 | octets.length, ...octets];
}

/** Bytes as ISO 8859-1 text, one character per byte (what IA5 and Printable strings hold). */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

function _utf32be(bytes: Bytes): string {
  if (bytes.length % 4 !== 0) throw new DerError("a UniversalString of odd length");
  let text = "";
  for (let i = 0; i < bytes.length; i += 4) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + i, 4);
    text += String.fromCodePoint(view.getUint32(0));
  }
  return text;
}

function _hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, "0");
}
