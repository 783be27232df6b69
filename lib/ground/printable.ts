/**
 * Text from outside (a certificate's subject and names, file names, a Host
 * header) made safe to print on one line: every control character is shown as
 * an escape, so that no such field can break a log line, forge another one, or
 * drive a terminal. Part of the ground layer: imports nothing.
 *
 * @module
 */

/**
 * What is escaped: C0 controls (newline, carriage return, ESC, …), DEL, C1 controls, the Unicode
 * line and paragraph separators, and the bidirectional overrides and isolates (which reorder what
 * a terminal shows).
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const BYTE_RANGE = 0x100;

/**
 * The text with every control character written as an escape: `\n`, `\r`, `\t`, `\x1b`, `\u2028`.
 * A backslash is left as it is, so escaping twice changes nothing; JSON output is never passed
 * through this (JSON escapes on its own and keeps values exact).
 *
 * @example
 * ```ts
 * import { escapeControl } from "./printable.ts";
 * console.log(escapeControl("CN=evil\n2026-01-01T00:00:00Z [SIGHUP] reloaded")); // one line
 * ```
 */
export function escapeControl(text: string): string {
  // The usual line has nothing to escape: hand it back as it is, without a copy.
  UNPRINTABLE.lastIndex = 0;
  if (!UNPRINTABLE.test(text)) return text;
  return text.replace(UNPRINTABLE, (character) => {
    const named = NAMED[character];
    if (named !== undefined) return named;
    const code = character.charCodeAt(0);
    const hex = code.toString(16).padStart(code < BYTE_RANGE ? 2 : 4, "0");
    return code < BYTE_RANGE ? `\\x${hex}` : `\\u${hex}`;
  });
}
