import assert from "node:assert/strict";
import { covers, droppedNames, normalizeIp, servedNames } from "../lib/reload/names.ts";
import { checkRenewal } from "../lib/reload/renewal.ts";
import { fakeCertificate } from "./_certificates.ts";
import { test } from "./_time_limit.ts";

const dns = (value: string) => ({ type: "dns" as const, value });
const ip = (value: string) => ({ type: "ip" as const, value });
const certificate = (subjectAltNames: string[], subject = "CN=ignored.example") =>
  fakeCertificate("AA", { subject, subjectAltNames });

test("RFC 6125 wildcards: *.example.com covers one label only, never the apex or two labels", () => {
  const wildcard = dns("*.example.com");
  assert.ok(covers(wildcard, dns("a.example.com")));
  assert.ok(!covers(wildcard, dns("example.com")));
  assert.ok(!covers(wildcard, dns("a.b.example.com")));
  assert.ok(!covers(wildcard, dns("aexample.com")));
  assert.ok(!covers(dns("a.example.com"), wildcard), "a name does not cover a served wildcard");
  assert.ok(covers(wildcard, wildcard), "the same wildcard covers a served wildcard");
  assert.ok(!covers(dns("*.b.example.com"), dns("a.example.com")));
  assert.ok(!covers(dns("f*.example.com"), dns("foo.example.com")), "only a whole-label *");
  assert.ok(!covers(ip("10.0.0.2"), dns("10.0.0.2")), "an IP SAN does not cover a DNS name");
});

test("served names: SAN DNS and IP entries, case and trailing dot folded; the CN only without them", () => {
  assert.deepEqual(
    servedNames(certificate(["DNS:WWW.Example.COM.", "IP Address:0:0:0:0:0:0:0:1", "email:a@b.c"])),
    [dns("www.example.com"), ip("::1")],
  );
  assert.deepEqual(servedNames(certificate([], "O=Example, CN=Legacy.Example")), [
    dns("legacy.example"),
  ]);
  assert.deepEqual(servedNames(certificate(["email:a@b.c"], "CN=192.0.2.7")), [ip("192.0.2.7")]);
  assert.deepEqual(servedNames(certificate([], "O=No Name")), []);
});

test("IP addresses compare as addresses: IPv6 in RFC 5952 form, IPv4 dotted, anything else refused", () => {
  assert.equal(normalizeIp("0:0:0:0:0:0:0:1"), "::1");
  assert.equal(normalizeIp("2001:DB8:0:0:0:0:2:1"), "2001:db8::2:1");
  assert.equal(normalizeIp("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(normalizeIp("::ffff:192.0.2.1"), "::ffff:c000:201");
  assert.equal(normalizeIp("fe80:0:0:0:1:0:0:0"), "fe80::1:0:0:0", "the first of equal runs");
  assert.equal(normalizeIp("1:0:0:2:0:0:0:3"), "1:0:0:2::3", "the longest run");
  assert.equal(normalizeIp("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7", "never a single zero group");
  assert.equal(normalizeIp("10.0.0.2"), "10.0.0.2");
  for (const bad of ["256.0.0.1", "1:2:3:4:5:6:7:8:9", "1::2::3", "example.com", "12345::"]) {
    assert.equal(normalizeIp(bad), undefined, bad);
  }
});

test("dropped names: each served name no renewal name covers, in the served order", () => {
  const served = certificate(["DNS:example.com", "DNS:a.example.com", "IP Address:10.0.0.2"]);
  assert.deepEqual(droppedNames(served, certificate(["DNS:*.example.com"])), [
    dns("example.com"),
    ip("10.0.0.2"),
  ]);
  assert.deepEqual(
    droppedNames(
      served,
      certificate(["DNS:EXAMPLE.com", "DNS:*.example.com", "IP Address:10.0.0.2"]),
    ),
    [],
  );
});

test("a renewal check refuses dropped names unless allowed, and notes an earlier expiry and a new key type", () => {
  const served = fakeCertificate("AA", {
    subjectAltNames: ["DNS:a.example", "DNS:b.example"],
    notAfter: new Date("2027-06-01T00:00:00Z"),
  });
  const renewal = fakeCertificate("BB", {
    subjectAltNames: ["DNS:a.example"],
    notAfter: new Date("2027-03-01T00:00:00Z"),
    keyType: "RSA 2048",
  });
  const refused = checkRenewal(served, renewal, false);
  assert.deepEqual(refused, {
    ok: false,
    error: { kind: "names_dropped", path: "cert.pem", dropped: [dns("b.example")] },
  });
  const allowed = checkRenewal(served, renewal, true);
  assert.ok(allowed.ok);
  assert.deepEqual(allowed.value.map((note) => note.kind), [
    "names_dropped",
    "expires_earlier",
    "key_type_changed",
  ]);
  const wildcard = fakeCertificate("CC", {
    subjectAltNames: ["DNS:*.example"],
    notAfter: new Date("2027-09-01T00:00:00Z"),
  });
  assert.deepEqual(checkRenewal(served, wildcard, false), { ok: true, value: [] });
});
