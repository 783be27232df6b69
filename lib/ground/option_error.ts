/**
 * An option that makes no sense: the shape every layer uses to refuse a
 * setting (the TLS front choice, the library's options, the CLI's flags).
 * Part of the ground layer: imports nothing.
 *
 * @module
 */

/**
 * An option that makes no sense, named, with what it must be.
 *
 * @example
 * ```ts
 * const error: OptionError = { option: "port", problem: "must be a port number from 0 to 65535, got 70000" };
 * ```
 */
export interface OptionError {
  /** The option's name as the caller wrote it, e.g. `control.hostname` or `--port`. */
  readonly option: string;
  /** What is wrong with it, e.g. `must be a port number from 0 to 65535, got 70000`. */
  readonly problem: string;
}
