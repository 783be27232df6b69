/**
 * What an HTTPS front is: a listener serving a handler whose certificate and
 * key can be replaced as one pair while it runs. Two fronts implement it:
 * the native one (`lib/serve/tls/native_front.ts`: Deno's own HTTP, h2 and http/1.1,
 * a listener per certificate) and the `node:https` one (`lib/serve/tls/node_front.ts`,
 * the fallback). This module holds the interface, the choice between them,
 * and what both share.
 *
 * @module
 */

import type { Certificate, CertificateError } from "../../certificate/certificate.ts";
import type { OptionError } from "../../ground/option_error.ts";
import { err, ok, type Result, unreachable } from "../../ground/result.ts";
import type { ConnectionStats, StopReport } from "../connections.ts";

/** The HTTPS fronts: Deno's native HTTP (h2 and http/1.1) or `node:https` (http/1.1). */
export type TlsFrontName = "native" | "node";

/** What the operator asks for: a front by name, or `auto` (native when it can run, else node). */
export type TlsFrontChoice = TlsFrontName | "auto";

/** The choices, for flag parsing and messages. */
export const TLS_FRONT_CHOICES: readonly TlsFrontChoice[] = ["auto", "native", "node"];

/** Why the native front cannot run in this process. */
export type NativeFrontUnavailable = "no_unstable_net" | "no_internal_api";

/** The notice of which HTTPS front serves the app, and why when it is not the one asked for. */
export interface TlsFrontNotice {
  /** Discriminant. */
  readonly kind: "tls_front";
  /** The front that serves. */
  readonly front: TlsFrontName;
  /** The ALPN protocols it offers. */
  readonly protocols: readonly string[];
  /** Why the native front was not used, when `auto` fell back. */
  readonly fallback?: NativeFrontUnavailable;
}

/** A running HTTPS listener whose certificate can be replaced while it runs. */
export interface TlsFront {
  /** Which front this is. */
  readonly name: TlsFrontName;
  /** The ALPN protocols it offers, e.g. `["h2", "http/1.1"]`. */
  readonly protocols: readonly string[];
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Makes every handshake that starts after it returns present this certificate and key. */
  swap(certificate: Certificate): Result<void, CertificateError>;
  /** Its connection counters, for `/metrics`. */
  readonly stats: ConnectionStats;
  /** Stops accepting, lets in-flight requests finish within the grace period, then cuts the rest. */
  shutdown(): Promise<StopReport>;
}

/** The front to start for a choice, given whether the native front can run; `fallback` says why auto fell back. */
export function chooseTlsFront(
  choice: TlsFrontChoice,
  unavailable: NativeFrontUnavailable | undefined,
): Result<{ front: TlsFrontName; fallback?: NativeFrontUnavailable }, OptionError> {
  if (choice === "node") return ok({ front: "node" });
  if (unavailable === undefined) return ok({ front: "native" });
  if (choice === "auto") return ok({ front: "node", fallback: unavailable });
  return err({
    option: "tlsFront",
    problem: unavailable === "no_unstable_net"
      ? "native needs Deno's --unstable-net flag (for SO_REUSEPORT listeners); add it, or choose node"
      : "native needs Deno's internal serveHttpOnConnection, which this Deno version lacks; " +
        "choose node",
  });
}

/** The error of a reload whose pair the TLS stack refused although it parsed. */
export function tlsRejected(certificate: Certificate, error: unknown): CertificateError {
  return {
    kind: "tls_rejected",
    path: certificate.path,
    reason: error instanceof Error ? error.message : String(error),
  };
}

/** Renders which front serves HTTPS, and why when it fell back. */
export function formatTlsFrontNotice(notice: TlsFrontNotice): string {
  const serving = `HTTPS served by the ${notice.front} front (${notice.protocols.join(", ")})`;
  switch (notice.fallback) {
    case undefined:
      return serving;
    case "no_unstable_net":
      return `${serving}: the native front (HTTP/2, native speed) needs Deno's --unstable-net ` +
        "flag; add it to serve natively";
    case "no_internal_api":
      return `${serving}: this Deno version lacks the internal serveHttpOnConnection the ` +
        "native front uses";
    default:
      return unreachable(notice.fallback);
  }
}
