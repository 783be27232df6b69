/**
 * The active certificate and the one way to change it: {@linkcode Reloader}.
 * It keeps the last known good certificate, runs one reload at a time, and
 * tells every caller what happened as a {@linkcode ReloadOutcome}.
 *
 * @module
 */

import {
  type Certificate,
  type CertificateError,
  isSameCertificate,
} from "../certificate/certificate.ts";
import type { Result } from "../ground/result.ts";

/**
 * What asked for a load: startup, `POST /reload_certs`, SIGHUP, a `reload()` call, or a file change.
 *
 * @example
 * ```ts ignore
 * onReload: (outcome) => console.log(`[${outcome.trigger}] ${formatOutcome(outcome)}`),
 * ```
 */
export type ReloadTrigger = "startup" | "http" | "sighup" | "api" | "watch";

/**
 * The result of one load or reload, as every surface reports it; `trigger` says who asked.
 *
 * @example
 * ```ts ignore
 * const outcome = await server.reload();
 * if (outcome.kind === "failed") console.error(formatOutcome(outcome));
 * ```
 */
export type ReloadOutcome =
  | {
    /** The certificate was loaded at startup and is now active. */
    readonly kind: "loaded";
    /** Always `startup`. */
    readonly trigger: "startup";
    /** When the files were read. */
    readonly at: Date;
    /** How long reading, checking and activating took, in milliseconds. */
    readonly durationMs: number;
    /** The certificate now active. */
    readonly certificate: Certificate;
  }
  | {
    /** A different certificate was loaded and is now active. */
    readonly kind: "reloaded";
    /** What asked for the reload. */
    readonly trigger: ReloadTrigger;
    /** When the files were read. */
    readonly at: Date;
    /** How long reading, checking and activating took, in milliseconds. */
    readonly durationMs: number;
    /** The certificate now active. */
    readonly certificate: Certificate;
    /** The certificate it replaced. */
    readonly previous: Certificate;
  }
  | {
    /** The files hold the certificate already active; nothing changed. */
    readonly kind: "unchanged";
    /** What asked for the reload. */
    readonly trigger: ReloadTrigger;
    /** When the files were read. */
    readonly at: Date;
    /** How long reading, checking and activating took, in milliseconds. */
    readonly durationMs: number;
    /** The certificate still active. */
    readonly certificate: Certificate;
  }
  | {
    /** The files were rejected; the previous certificate stays active. */
    readonly kind: "failed";
    /** What asked for the reload. */
    readonly trigger: ReloadTrigger;
    /** When the files were read. */
    readonly at: Date;
    /** How long reading, checking and activating took, in milliseconds. */
    readonly durationMs: number;
    /** Why the files were rejected. */
    readonly error: CertificateError;
    /** The certificate still active (last known good). */
    readonly certificate: Certificate;
  };

/**
 * The kind names of {@linkcode ReloadOutcome}.
 *
 * @example
 * ```ts
 * const success: ReloadOutcomeKind[] = ["loaded", "reloaded", "unchanged"];
 * ```
 */
export type ReloadOutcomeKind = ReloadOutcome["kind"];

/** Options of {@linkcode Reloader}. */
export interface ReloaderOptions {
  /** Loads and validates the configured files (the loader, bound to its paths). */
  readonly load: (now: Date) => Promise<Result<Certificate, CertificateError>>;
  /**
   * Makes a new certificate live before its success is reported (the TLS front). When it
   * fails, the reload fails and the previous certificate stays active.
   */
  readonly activate?: (
    certificate: Certificate,
  ) => Result<void, CertificateError> | Promise<Result<void, CertificateError>>;
  /** The clock; defaults to the current time. */
  readonly clock?: () => Date;
  /** When the initial certificate was loaded; defaults to now. */
  readonly loadedAt?: Date;
}

/** A reload's outcome before it is told which caller it answers. */
type SharedOutcome = Exclude<ReloadOutcome, { kind: "loaded" }> extends infer O
  ? O extends unknown ? Omit<O, "trigger"> : never
  : never;

/** The outcome of loading the certificate at startup. */
export function startupOutcome(
  certificate: Certificate,
  at: Date,
  durationMs: number,
): ReloadOutcome {
  return { kind: "loaded", trigger: "startup", at, durationMs, certificate };
}

/** When the active certificate became active, and what asked for it. */
export interface ActiveSince {
  /** When its files were read. */
  readonly at: Date;
  /** The trigger of the load or reload that made it active. */
  readonly trigger: ReloadTrigger;
}

/** Holds the active certificate and serializes reloads of it. */
export class Reloader {
  #active: Certificate;
  #activeSince: ActiveSince;
  #running: Promise<SharedOutcome> | undefined;
  #queued: Promise<SharedOutcome> | undefined;
  readonly #options: ReloaderOptions;

  /** Starts with a certificate that was already loaded and validated. */
  constructor(initial: Certificate, options: ReloaderOptions) {
    this.#active = initial;
    this.#options = options;
    this.#activeSince = { at: options.loadedAt ?? this.#now(), trigger: "startup" };
  }

  /** The certificate being served now. */
  get active(): Certificate {
    return this.#active;
  }

  /** When the active certificate was loaded, and by which trigger. */
  get activeSince(): ActiveSince {
    return this.#activeSince;
  }

  /**
   * Reloads the files and reports the outcome, naming `trigger` as its cause.
   * Reloads never interleave: a call made while one runs waits for it, then
   * shares one fresh reload with every other caller that arrived meanwhile,
   * so each caller's answer reflects the files as they were when it asked,
   * or later.
   */
  async reload(trigger: ReloadTrigger = "api"): Promise<ReloadOutcome> {
    const outcome = await this.#shared(trigger);
    return { ...outcome, trigger };
  }

  #now(): Date {
    return (this.#options.clock ?? (() => new Date()))();
  }

  /** The reload this caller shares; the caller that starts a run names its trigger. */
  #shared(trigger: ReloadTrigger): Promise<SharedOutcome> {
    if (this.#queued !== undefined) return this.#queued;
    if (this.#running === undefined) return this.#run(trigger);
    const startNext = () => {
      this.#queued = undefined;
      return this.#run(trigger);
    };
    this.#queued = this.#running.then(startNext, startNext);
    return this.#queued;
  }

  #run(trigger: ReloadTrigger): Promise<SharedOutcome> {
    const running = this.#reloadOnce(trigger).finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  async #reloadOnce(trigger: ReloadTrigger): Promise<SharedOutcome> {
    const at = this.#now();
    const started = performance.now();
    const took = () => performance.now() - started;
    let loaded: Result<Certificate, CertificateError>;
    try {
      loaded = await this.#options.load(at);
    } catch (error) {
      // The loader returns errors as values; should it ever throw, the reload fails (and a SIGHUP
      // does not take the process down) instead of the exception escaping.
      loaded = {
        ok: false,
        error: {
          kind: "io",
          role: "certificate",
          path: this.#active.path,
          reason: `the loader failed unexpectedly: ${
            error instanceof Error ? error.message : error
          }`,
        },
      };
    }
    if (!loaded.ok) {
      return {
        kind: "failed",
        at,
        durationMs: took(),
        error: loaded.error,
        certificate: this.#active,
      };
    }
    const previous = this.#active;
    if (isSameCertificate(loaded.value, previous)) {
      return { kind: "unchanged", at, durationMs: took(), certificate: previous };
    }
    const activated = await this.#options.activate?.(loaded.value);
    if (activated !== undefined && !activated.ok) {
      return {
        kind: "failed",
        at,
        durationMs: took(),
        error: activated.error,
        certificate: previous,
      };
    }
    this.#active = loaded.value;
    this.#activeSince = { at, trigger };
    return { kind: "reloaded", at, durationMs: took(), certificate: loaded.value, previous };
  }
}
