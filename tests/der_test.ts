import assert from "node:assert/strict";
import {
  childrenOf,
  decodeOid,
  decodeString,
  decodeTime,
  DerError,
  encodeElement,
  encodeOid,
  integerMagnitude,
  readElement,
  TAG,
} from "../lib/ground/der.ts";
import { test } from "./_time_limit.ts";

const bytes = (...values: number[]) => new Uint8Array(values);
const text = (tag: number, value: string) => encodeElement(tag, new TextEncoder().encode(value));

test("DER elements are read with short and long lengths, and never past the end of their data", () => {
  const long = encodeElement(TAG.OCTET_STRING, new Uint8Array(300));
  assert.deepEqual([...long.subarray(0, 4)], [0x04, 0x82, 0x01, 0x2c]);
  assert.equal(readElement(long).contents.length, 300);
  const sequence = encodeElement(TAG.SEQUENCE, bytes(0x02, 0x01, 0x05), bytes(0x05, 0x00));
  assert.deepEqual(childrenOf(readElement(sequence)).map((child) => child.tag), [0x02, 0x05]);
  for (
    const bad of [
      bytes(0x30),
      bytes(0x30, 0x05, 0x01),
      bytes(0x30, 0x80, 0x00, 0x00),
      bytes(0x30, 0x85, 1, 0, 0, 0, 0),
      bytes(0x30, 0x82, 0x01),
      bytes(0x1f, 0x01, 0x00),
      bytes(0x30, 0x03, 0x02, 0x05, 0x00),
    ]
  ) {
    assert.throws(() => childrenOf(readElement(bad)), DerError, `${[...bad]}`);
  }
});

test("object identifiers decode to dotted form and encode back", () => {
  for (const oid of ["2.5.4.3", "1.2.840.113549.1.1.11", "0.9.2342.19200300.100.1.25", "2.999.3"]) {
    assert.equal(decodeOid(readElement(encodeOid(oid))), oid);
  }
  assert.throws(() => decodeOid(readElement(bytes(0x06, 0x01, 0x81))), DerError);
});

test("times decode as UTC dates; UTCTime years below 50 are 20xx; impossible dates are errors", () => {
  const time = (tag: number, value: string) => decodeTime(readElement(text(tag, value)));
  assert.equal(time(TAG.UTC_TIME, "491231235959Z").toISOString(), "2049-12-31T23:59:59.000Z");
  assert.equal(time(TAG.UTC_TIME, "500101000000Z").toISOString(), "1950-01-01T00:00:00.000Z");
  assert.equal(
    time(TAG.GENERALIZED_TIME, "20480229120000.5Z").toISOString(),
    "2048-02-29T12:00:00.500Z",
  );
  // As OpenSSL and rustls read them: seconds left out, an offset from UTC, no Z at all.
  assert.equal(time(TAG.UTC_TIME, "2611290000Z").toISOString(), "2026-11-29T00:00:00.000Z");
  assert.equal(time(TAG.UTC_TIME, "261129000000+0100").toISOString(), "2026-11-28T23:00:00.000Z");
  assert.equal(time(TAG.UTC_TIME, "2611290000-0230").toISOString(), "2026-11-29T02:30:00.000Z");
  assert.equal(
    time(TAG.GENERALIZED_TIME, "20261129000000").toISOString(),
    "2026-11-29T00:00:00.000Z",
  );
  for (
    const [tag, bad] of [
      [TAG.GENERALIZED_TIME, "20500229120000Z"],
      [TAG.UTC_TIME, "261301000000Z"],
      [TAG.UTC_TIME, "261129246000Z"],
      [TAG.INTEGER, "261129000000Z"],
    ] as const
  ) {
    assert.throws(() => time(tag, bad), DerError, bad);
  }
});

test("strings decode by their type, and integers lose their sign octet", () => {
  assert.equal(decodeString(readElement(text(TAG.UTF8_STRING, "Inter ÉC"))), "Inter ÉC");
  assert.equal(decodeString(readElement(text(TAG.PRINTABLE_STRING, "DE"))), "DE");
  const bmp = encodeElement(TAG.BMP_STRING, bytes(0x00, 0x4f, 0x00, 0x4b));
  assert.equal(decodeString(readElement(bmp)), "OK");
  assert.throws(() => decodeString(readElement(bytes(0x0c, 0x01, 0xff))), DerError);
  assert.throws(() => decodeString(readElement(bytes(0x02, 0x01, 0x41))), DerError);
  const magnitude = integerMagnitude(readElement(bytes(0x02, 0x03, 0x00, 0x8f, 0x01)));
  assert.deepEqual([...magnitude], [0x8f, 0x01]);
});
