/**
 * Drift: whether the files on disk still hold the certificate (and key) being
 * served. `same`; `changed` (they hold another valid pair, not served until a
 * reload); `invalid` (the loader would refuse them) or `unreadable` (they
 * cannot be read), with the loader's words for why. Each look costs a `stat`
 * of the files; they are read (and checked by the loader) only when the
 * `stat` changed since the last look. It never reloads anything itself.
 *
 * @module
 */

import {
  type Certificate,
  type CertificateError,
  isSameCertificate,
} from "../certificate/certificate.ts";
import { describeError } from "../certificate/describe_error.ts";
import type { Result } from "../ground/result.ts";
import { formatTime } from "../ground/time.ts";
import { statState } from "./watcher.ts";

/** What the files on disk hold, compared with what is served. */
export type DiskState =
  | { readonly state: "same" }
  | { readonly state: "changed"; readonly certificate: Certificate }
  | { readonly state: "invalid" | "unreadable"; readonly error: CertificateError };

/** The state names of {@linkcode DiskState}. */
export type DiskStateName = DiskState["state"];

/** The loader's error kinds that mean the files could not be read, rather than read and refused. */
const UNREADABLE_KINDS: ReadonlySet<CertificateError["kind"]> = new Set([
  "not_found",
  "permission_denied",
  "not_a_file",
  "too_large",
  "io",
]);

/** Looks at the configured files and tells whether they drifted from what is served. */
export class DriftCheck {
  readonly #paths: readonly string[];
  readonly #load: (now: Date) => Promise<Result<Certificate, CertificateError>>;
  #seen:
    | { readonly stat: string; readonly loaded: Result<Certificate, CertificateError> }
    | undefined;

  /** Checks `paths` (certificate, then key) with `load`, the loader bound to them. */
  constructor(
    paths: readonly string[],
    load: (now: Date) => Promise<Result<Certificate, CertificateError>>,
  ) {
    this.#paths = paths;
    this.#load = load;
  }

  /** What the files hold compared with `served`: a `stat` each look, a read only when it changed. */
  async look(served: Certificate, now: Date): Promise<DiskState> {
    const stat = await statState(this.#paths);
    if (this.#seen?.stat !== stat) this.#seen = { stat, loaded: await this.#load(now) };
    const loaded = this.#seen.loaded;
    if (!loaded.ok) {
      const state = UNREADABLE_KINDS.has(loaded.error.kind) ? "unreadable" : "invalid";
      return { state, error: loaded.error };
    }
    return isSameCertificate(loaded.value, served)
      ? { state: "same" }
      : { state: "changed", certificate: loaded.value };
  }
}

/** Says what the disk holds, for `/certs` and `deno task status`. */
export function formatDiskState(disk: DiskState, served: Certificate): string {
  const files = `"${served.path}"${served.keyPath === undefined ? "" : ` and "${served.keyPath}"`}`;
  const hold = served.keyPath === undefined ? "holds" : "hold";
  switch (disk.state) {
    case "same":
      return `same: ${files} ${hold} the certificate being served`;
    case "changed":
      return `changed: ${files} now ${hold} ${disk.certificate.subject} ` +
        `(expires ${formatTime(disk.certificate.notAfter)}, SHA-256 ` +
        `${disk.certificate.fingerprint256}), which is not served until a reload`;
    case "invalid":
      return `invalid: ${describeError(disk.error)}; a reload would fail and keep serving ` +
        `SHA-256 ${served.fingerprint256}`;
    case "unreadable":
      return `unreadable: ${describeError(disk.error)}; a reload would fail and keep serving ` +
        `SHA-256 ${served.fingerprint256}`;
  }
}
