/**
 * The control token file (`--control-token-file`): read once at startup with
 * the loader's safe reader (regular file only, bounded size, symlinks
 * followed). The file must be readable by its owner only (judged on a link's
 * target), and the token printable ASCII without spaces; an empty, exposed or
 * unusable token refuses the start, never "no token".
 *
 * @module
 */

import { type CertificateError, readBoundedFile } from "../certificate/certificate.ts";
import { describeError } from "../certificate/describe_error.ts";
import { err, ok, type Result } from "../ground/result.ts";

/** The largest token file read, in bytes. */
export const MAX_TOKEN_FILE_BYTES = 4096;

/** The mode bits that must be clear: read and write for the group and for others. */
export const TOKEN_EXPOSING_MODE = 0o066;

/** What a token may hold: printable ASCII, no space (what `Authorization: Bearer` can carry). */
const TOKEN_TEXT = /^[!-~]+$/;
const ASCII_SPACE = 0x20;
const ASCII_DEL = 0x7f;

/**
 * Why a token file was refused: a file error, a file others can read or write, or a token no
 * request could send.
 *
 * @example
 * ```ts ignore
 * if (!token.ok && token.error.kind === "token_exposed") console.error(`chmod 600 ${token.error.path}`);
 * ```
 */
export type TokenError =
  | CertificateError
  | {
    /** Group or others may read or write the file (a link's target's mode). */
    readonly kind: "token_exposed";
    readonly path: string;
    /** The file's permission bits, e.g. `0o644`. */
    readonly mode: number;
  }
  | {
    /** The token holds a space, a control character or a non-ASCII character. */
    readonly kind: "token_unusable";
    readonly path: string;
    /** What it holds that no `Authorization: Bearer` header can carry. */
    readonly holds: "a space" | "a control character" | "a character outside ASCII";
  };

/** Reads the token: the file's text without surrounding white space. */
export async function readTokenFile(path: string): Promise<Result<string, TokenError>> {
  const read = await readBoundedFile<TokenError>(path, "token", MAX_TOKEN_FILE_BYTES, (info) => {
    const mode = (info.mode ?? 0) & 0o777;
    return (mode & TOKEN_EXPOSING_MODE) === 0 ? undefined : { kind: "token_exposed", path, mode };
  });
  if (!read.ok) return read;
  const token = new TextDecoder().decode(read.value).trim();
  if (token === "") return err({ kind: "empty", role: "token", path });
  if (!TOKEN_TEXT.test(token)) {
    // Outside ASCII first, then controls (a tab or newline inside it); what is left is a space.
    const codes = Array.from(token, (character) => character.codePointAt(0) ?? 0);
    const holds = codes.some((code) => code > ASCII_DEL)
      ? "a character outside ASCII"
      : codes.some((code) => code < ASCII_SPACE || code === ASCII_DEL)
      ? "a control character"
      : "a space";
    return err({ kind: "token_unusable", path, holds });
  }
  return ok(token);
}

/** Says why a token file was refused, and how to fix it; never shows the token. */
export function describeTokenError(error: TokenError): string {
  switch (error.kind) {
    case "token_exposed":
      return `Cannot use control token "${error.path}": its mode is ` +
        `${error.mode.toString(8).padStart(4, "0")}, so other users may read or change it; ` +
        `make it readable by its owner only with: chmod 600 ${error.path}`;
    case "token_unusable":
      return `Cannot use control token "${error.path}": it holds ${error.holds}, and a token ` +
        "must be printable ASCII without spaces (e.g. openssl rand -hex 32)";
    default:
      return describeError(error);
  }
}
