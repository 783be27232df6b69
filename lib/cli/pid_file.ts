/**
 * The pid file (`--pid-file`): the server's pid, written at startup and
 * removed at a clean exit, so that `kill -HUP $(cat PATH)` reaches the server
 * itself (not an `npx` or `deno task` wrapper). While the server runs it holds
 * an exclusive OS lock on the file: a file left by a crashed run (no lock) is
 * replaced, a file locked by a running server is refused.
 *
 * @module
 */

import type { PidFileError } from "../api/start_error.ts";
import { err, ok, type Result } from "../ground/result.ts";

/** A pid file this process holds. */
export interface PidFile {
  /** Its path. */
  readonly path: string;
  /** Removes the file and releases the lock. */
  release(): Promise<void>;
}

/** Writes this process's pid to `path` and locks it; refused while another server holds it. */
export async function takePidFile(path: string): Promise<Result<PidFile, PidFileError>> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (error) {
    const deniedByDeno = error instanceof Deno.errors.NotCapable;
    return err({ path, problem: _problem(error, path), ...(deniedByDeno ? { deniedByDeno } : {}) });
  }
  try {
    if (!(await file.tryLock(true))) {
      const holder = new TextDecoder().decode(await _readAll(file)).trim();
      file.close();
      return err({
        path,
        problem: `another server${holder === "" ? "" : ` (pid ${holder})`} is running and holds ` +
          "it; stop it first, or choose another pid file",
      });
    }
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (error) {
    file.close();
    return err({ path, problem: _problem(error, path) });
  }
  return ok({
    path,
    async release() {
      await Deno.remove(path).catch(() => {});
      file.close();
    },
  });
}

async function _readAll(file: Deno.FsFile): Promise<Uint8Array> {
  const buffer = new Uint8Array(64);
  const read = await file.read(buffer);
  return buffer.subarray(0, read ?? 0);
}

function _problem(error: unknown, path: string): string {
  if (error instanceof Deno.errors.NotCapable) {
    return `Deno denied access; grant it with --allow-read=${path} --allow-write=${path}`;
  }
  return error instanceof Error ? error.message : String(error);
}
