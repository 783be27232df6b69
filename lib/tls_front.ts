/**
 * The HTTPS front of the app server: one `node:https` listener whose
 * certificate and key are swapped as one pair with `setSecureContext()`.
 *
 * Why this and not `Deno.serve({ cert, key })`: no public Deno 2.9.6 API
 * changes the certificate of a running `Deno.serve` listener, and rolling to a
 * new `Deno.serve` (SO_REUSEPORT) loses requests on every swap (see README,
 * "HTTPS mode"). This module is the only place that knows how TLS is served,
 * so it can be replaced when Deno grows the API.
 *
 * @module
 */

import https from "node:https";
import type { AppAnswer } from "./app_server.ts";
import type { Certificate, CertificateError } from "./certificate.ts";
import { type ListenAddress, type ListenError, listenError } from "./listen.ts";
import { hostPort } from "./options.ts";
import { err, ok, type Result } from "./result.ts";

/** How long shutdown waits for busy connections before closing them. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** What the front serves: a synchronous answer for a method and path. */
export type Router = (method: string, path: string) => AppAnswer;

/** A running HTTPS listener whose certificate can be replaced while it runs. */
export interface TlsFront {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Makes every handshake that starts after it returns present this certificate and key. */
  swap(certificate: Certificate): Result<void, CertificateError>;
  /** Stops accepting, lets in-flight requests finish, then closes every connection. */
  shutdown(): Promise<void>;
}

/** Starts an HTTPS listener serving `router` with a validated certificate and key. */
export async function listenTls(
  address: ListenAddress,
  certificate: Certificate,
  router: Router,
): Promise<Result<TlsFront, ListenError>> {
  const where = hostPort(address.hostname, address.port);
  // node:net reports a missing --allow-net asynchronously as an uncaught error: ask first.
  const permission = await Deno.permissions.query({ name: "net", host: where });
  if (permission.state !== "granted") {
    return err({ kind: "permission_denied", server: "app", address: where, deniedBy: "deno" });
  }
  const server = https.createServer(
    { cert: certificate.certificatePem, key: certificate.keyPem },
    (request, response) => {
      const answer = router(request.method ?? "GET", request.url ?? "/");
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    },
  );
  const bound = await new Promise<Result<Deno.NetAddr, ListenError>>((resolve) => {
    server.once("error", (error) => resolve(err(listenError("app", where, error))));
    server.listen(address.port, address.hostname, () => {
      const info = server.address();
      const port = typeof info === "object" && info !== null ? info.port : address.port;
      resolve(ok({ transport: "tcp", hostname: address.hostname, port }));
    });
  });
  if (!bound.ok) return bound;
  return ok({
    addr: bound.value,
    swap(next) {
      try {
        server.setSecureContext({ cert: next.certificatePem, key: next.keyPem });
        return ok(undefined);
      } catch (error) {
        return err({
          kind: "tls_rejected",
          path: next.path,
          reason: error instanceof Error ? error.message : String(error),
        });
      }
    },
    shutdown() {
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  });
}
