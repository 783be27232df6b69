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
import { checkRenewal, type ReloadError, type RenewalNote } from "./renewal.ts";

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
    /** The certificate now active (in a dry run: the one that would be). */
    readonly certificate: Certificate;
    /** The certificate it replaced (in a dry run: still active). */
    readonly previous: Certificate;
    /** What the renewal changes without being refused: allowed dropped names, an earlier expiry, a new key type. */
    readonly notes: readonly RenewalNote[];
    /** True when it was only asked what a reload would do: nothing was swapped. */
    readonly dryRun?: boolean;
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
    /** True when it was only asked what a reload would do. */
    readonly dryRun?: boolean;
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
    /** Why the files were rejected: by the loader, or by the renewal checks (`names_dropped`). */
    readonly error: ReloadError;
    /** The certificate still active (last known good). */
    readonly certificate: Certificate;
    /** True when it was only asked what a reload would do. */
    readonly dryRun?: boolean;
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
  /** Whether a renewal may drop names the active certificate serves (`--allow-dropped-names`); defaults to false. */
  readonly allowDroppedNames?: boolean;
}

/**
 * How one reload is asked for: a dry run (checks everything, swaps and records nothing), and
 * whether it may drop names; unset fields take the reloader's settings.
 *
 * @example
 * ```ts ignore
 * const answer = await server.reload({ dryRun: true });
 * console.log(formatOutcome(answer)); // "would reload: …", "would fail: …"
 * ```
 */
export interface ReloadOptions {
  /** Only say what a reload would do. */
  readonly dryRun?: boolean;
  /** Allow this reload to drop names the active certificate serves. */
  readonly allowDroppedNames?: boolean;
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
  /** The last reload scheduled (running or queued); undefined when idle. */
  #tail: Promise<unknown> | undefined;
  /** Reloads queued behind the running one, by mode: callers asking the same share one. */
  readonly #queued = new Map<string, Promise<SharedOutcome>>();
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
   * shares one fresh reload with every other caller that arrived meanwhile
   * asking the same way (`options`), so each caller's answer reflects the
   * files as they were when it asked, or later. A dry run checks the same and
   * changes nothing.
   */
  async reload(
    trigger: ReloadTrigger = "api",
    options: ReloadOptions = {},
  ): Promise<ReloadOutcome> {
    const mode = {
      dryRun: options.dryRun ?? false,
      allowDroppedNames: options.allowDroppedNames ?? this.#options.allowDroppedNames ?? false,
    };
    const outcome = await this.#shared(trigger, mode);
    return { ...outcome, trigger };
  }

  #now(): Date {
    return (this.#options.clock ?? (() => new Date()))();
  }

  /** The reload this caller shares; the caller that starts a run names its trigger. */
  #shared(trigger: ReloadTrigger, mode: Mode): Promise<SharedOutcome> {
    const key = `${mode.dryRun}:${mode.allowDroppedNames}`;
    const queued = this.#queued.get(key);
    if (queued !== undefined) return queued;
    const start = () => {
      if (this.#queued.get(key) === scheduled) this.#queued.delete(key);
      return this.#reloadOnce(trigger, mode);
    };
    const scheduled: Promise<SharedOutcome> = this.#tail === undefined
      ? this.#reloadOnce(trigger, mode)
      : this.#tail.then(start, start);
    if (this.#tail !== undefined) this.#queued.set(key, scheduled);
    this.#tail = scheduled;
    const settle = () => {
      if (this.#tail === scheduled) this.#tail = undefined;
    };
    scheduled.then(settle, settle);
    return scheduled;
  }

  async #reloadOnce(trigger: ReloadTrigger, mode: Mode): Promise<SharedOutcome> {
    const at = this.#now();
    const started = performance.now();
    const took = () => performance.now() - started;
    const dryRun = mode.dryRun ? { dryRun: true } : {};
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
    const failed = (error: ReloadError): SharedOutcome => ({
      kind: "failed",
      at,
      durationMs: took(),
      error,
      certificate: this.#active,
      ...dryRun,
    });
    if (!loaded.ok) return failed(loaded.error);
    const previous = this.#active;
    if (isSameCertificate(loaded.value, previous)) {
      return { kind: "unchanged", at, durationMs: took(), certificate: previous, ...dryRun };
    }
    const renewal = checkRenewal(previous, loaded.value, mode.allowDroppedNames);
    if (!renewal.ok) return failed(renewal.error);
    const reloaded = {
      kind: "reloaded",
      certificate: loaded.value,
      previous,
      notes: renewal.value,
    };
    if (mode.dryRun) return { ...reloaded, kind: "reloaded", at, durationMs: took(), dryRun: true };
    const activated = await this.#options.activate?.(loaded.value);
    if (activated !== undefined && !activated.ok) return failed(activated.error);
    this.#active = loaded.value;
    this.#activeSince = { at, trigger };
    return { ...reloaded, kind: "reloaded", at, durationMs: took() };
  }
}

/** How one reload runs, every option resolved. */
interface Mode {
  readonly dryRun: boolean;
  readonly allowDroppedNames: boolean;
}
