/**
 * The control token file (`--control-token-file`): read once at startup with
 * the loader's safe reader (regular file only, bounded size, symlinks
 * followed). An empty or unreadable file is a startup failure, never "no token".
 *
 * @module
 */

import { type CertificateError, readBoundedFile } from "../certificate/certificate.ts";
import { err, ok, type Result } from "../ground/result.ts";

/** The largest token file read, in bytes. */
export const MAX_TOKEN_FILE_BYTES = 4096;

/** Reads the token: the file's text without surrounding white space. */
export async function readTokenFile(path: string): Promise<Result<string, CertificateError>> {
  const read = await readBoundedFile(path, "token", MAX_TOKEN_FILE_BYTES);
  if (!read.ok) return read;
  const token = new TextDecoder().decode(read.value).trim();
  if (token === "") return err({ kind: "empty", role: "token", path });
  return ok(token);
}
