/**
 * The `Result` type: how every fallible step in signal-server returns its
 * answer as a value instead of throwing.
 *
 * @module
 */

/**
 * A successful result carrying a value.
 *
 * @example
 * ```ts
 * const answer: Ok<number> = { ok: true, value: 42 };
 * ```
 */
export interface Ok<T> {
  /** Discriminant: the step succeeded. */
  readonly ok: true;
  /** What the step produced. */
  readonly value: T;
}

/**
 * A failed result carrying a typed error.
 *
 * @example
 * ```ts
 * const answer: Err<string> = { ok: false, error: "no" };
 * ```
 */
export interface Err<E> {
  /** Discriminant: the step failed. */
  readonly ok: false;
  /** Why the step failed. */
  readonly error: E;
}

/**
 * Either a value or a typed error, discriminated on `ok`.
 *
 * @example
 * ```ts ignore
 * const started = await serveWithReload(options);
 * if (!started.ok) throw new Error(formatStartError(started.error));
 * const server = started.value;
 * ```
 */
export type Result<T, E> = Ok<T> | Err<E>;

/** Wraps a value in a successful result. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** Wraps an error in a failed result. */
export function err<E>(error: E): Err<E> {
  return { ok: false, error };
}

/** Ends an exhaustive `switch`: the compiler proves it is never reached. */
export function unreachable(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}
