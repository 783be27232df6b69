/**
 * Distinguished names: rendered as `openssl x509 -subject -nameopt utf8,sep_comma_plus_space,sname`
 * prints them (`C=DE, O=Example, CN=example.com`, OpenSSL's short names for attribute types), and
 * compared as RFC 5280 §7.1 asks (case, leading, trailing and repeated spaces do not count).
 *
 * @module
 */

import {
  childrenOf,
  decodeOid,
  decodeString,
  type DerElement,
  DerError,
  expectTag,
  TAG,
  toHex,
} from "../ground/der.ts";

/** OpenSSL's short names of attribute types (its `list -objects`); any other type prints as its OID. */
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.13": "description",
  "2.5.4.14": "searchGuide",
  "2.5.4.15": "businessCategory",
  "2.5.4.16": "postalAddress",
  "2.5.4.17": "postalCode",
  "2.5.4.18": "postOfficeBox",
  "2.5.4.19": "physicalDeliveryOfficeName",
  "2.5.4.20": "telephoneNumber",
  "2.5.4.21": "telexNumber",
  "2.5.4.23": "facsimileTelephoneNumber",
  "2.5.4.24": "x121Address",
  "2.5.4.25": "internationaliSDNNumber",
  "2.5.4.26": "registeredAddress",
  "2.5.4.27": "destinationIndicator",
  "2.5.4.28": "preferredDeliveryMethod",
  "2.5.4.29": "presentationAddress",
  "2.5.4.31": "member",
  "2.5.4.32": "owner",
  "2.5.4.33": "roleOccupant",
  "2.5.4.34": "seeAlso",
  "2.5.4.41": "name",
  "2.5.4.42": "GN",
  "2.5.4.43": "initials",
  "2.5.4.44": "generationQualifier",
  "2.5.4.45": "x500UniqueIdentifier",
  "2.5.4.46": "dnQualifier",
  "2.5.4.49": "distinguishedName",
  "2.5.4.50": "uniqueMember",
  "2.5.4.51": "houseIdentifier",
  "2.5.4.54": "dmdName",
  "2.5.4.65": "pseudonym",
  "2.5.4.72": "role",
  "2.5.4.97": "organizationIdentifier",
  "2.5.4.98": "c3",
  "2.5.4.99": "n3",
  "2.5.4.100": "dnsName",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.3": "mail",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.44": "uid",
  "1.2.840.113549.1.9.1": "emailAddress",
  "1.2.840.113549.1.9.2": "unstructuredName",
  "1.2.840.113549.1.9.8": "unstructuredAddress",
  "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
  "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
  "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
};

/** A name read once: its text as OpenSSL prints it and its key for RFC 5280 §7.1 comparison. */
export interface DistinguishedName {
  /** E.g. `C=DE, O=Example, CN=example.com`: RDNs in the certificate's order, `+` within one. */
  readonly text: string;
  /** Equal for two names that RFC 5280 §7.1 calls equal. */
  readonly key: string;
}

/** Reads a DER `Name`; a value that is not a string prints as `#` and its DER in hex (RFC 4514). */
export function readName(name: DerElement): DistinguishedName {
  const texts: string[] = [];
  const keys: string[] = [];
  for (const rdn of childrenOf(expectTag(name, TAG.SEQUENCE))) {
    const pairs = childrenOf(expectTag(rdn, TAG.SET)).map(_attribute);
    texts.push(pairs.map((pair) => `${pair.type}=${pair.value}`).join(" + "));
    keys.push(pairs.map((pair) => pair.key).sort().join("+"));
  }
  return { text: texts.join(", "), key: keys.join("\0") };
}

/** The text `X509_NAME_oneline` gives (`/CN=test/O=Org`), which OpenSSL prints for a `DirName:`. */
export function readNameOneline(name: DerElement): string {
  return childrenOf(expectTag(name, TAG.SEQUENCE)).map((rdn) =>
    childrenOf(expectTag(rdn, TAG.SET)).map((pair) => {
      const { type, value } = _attribute(pair);
      return `${type}=${value}`;
    }).join("+")
  ).map((rdn) => `/${rdn}`).join("");
}

function _attribute(pair: DerElement): { type: string; value: string; key: string } {
  const [typeElement, valueElement] = childrenOf(expectTag(pair, TAG.SEQUENCE));
  if (typeElement === undefined) throw new DerError("attribute type is missing");
  if (valueElement === undefined) throw new DerError("attribute value is missing");
  const oid = decodeOid(typeElement);
  const text = _stringValue(valueElement);
  const value = text ?? `#${toHex(valueElement.encoded)}`;
  // RFC 5280 §7.1 (RFC 4518's preparation, as OpenSSL applies it): strings compare without
  // regard to case and to leading, trailing and repeated white space; other values by their DER.
  const key = `${oid}=${
    text === undefined ? value : text.trim().replace(/\s+/g, " ").toLowerCase()
  }`;
  return { type: ATTRIBUTE_NAMES[oid] ?? oid, value, key };
}

function _stringValue(value: DerElement): string | undefined {
  try {
    return decodeString(value);
  } catch {
    return undefined;
  }
}
