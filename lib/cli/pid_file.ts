/**
 * The pid file (`--pid-file`): the server's pid, written at startup and
 * removed at a clean exit, so that `kill -HUP $(cat PATH)` reaches the server
 * itself (not an `npx` or `deno task` wrapper). While the server runs it holds
 * an exclusive OS lock on the file: a file left by a crashed run (no lock) is
 * replaced, a file locked by a running server is refused. The path is never
 * followed: a symbolic link, a hard-linked file or anything but a regular file
 * at it refuses the start.
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
  let taken: Deno.FileInfo;
  try {
    const opened = await _openWithoutFollowing(path);
    if (!opened.ok) return err({ path, problem: opened.error });
    file = opened.value;
    taken = await file.stat();
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
        problem:
          `another server${/^\d+$/.test(holder) ? ` (pid ${holder})` : ""} is running and holds ` +
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
      // Only the file taken is removed: not whatever may have been put at the path since.
      const now = await Deno.lstat(path).catch(() => undefined);
      if (now !== undefined && now.dev === taken.dev && now.ino === taken.ino) {
        await Deno.remove(path).catch(() => {});
      }
      file.close();
    },
  });
}

/** How often the path may change between its check and its open before the pid file is refused. */
const MAX_OPEN_ATTEMPTS = 3;

/**
 * Opens the pid file for writing without following a symbolic link, and only when it is a regular
 * file with one link, or absent. Deno 2.9.6 has no `O_NOFOLLOW` (`Deno.open` ignores custom
 * flags), so:
 * - an absent file is created with `createNew` (`O_CREAT | O_EXCL`), which never follows a link:
 *   a link planted in the meantime makes it fail, and the path is checked again;
 * - an existing path is `lstat`ed (a link is not followed) and must be a regular file with one
 *   link (a hard link to another file would be written through); it is then opened without
 *   `create` or `truncate`, and the opened file's `fstat` must show the device and inode the
 *   `lstat` saw. A link swapped in between the two is followed by the open, but nothing is written
 *   to it: the inodes differ (or Deno refuses the `fstat` of a link's target), the file is closed,
 *   and the path is checked again. Only then is the file locked, truncated and written.
 */
async function _openWithoutFollowing(path: string): Promise<Result<Deno.FsFile, string>> {
  for (let attempt = 1; attempt <= MAX_OPEN_ATTEMPTS; attempt++) {
    const seen = _lstatOrUndefined(path);
    if (seen === undefined) {
      try {
        return ok(await Deno.open(path, { read: true, write: true, createNew: true }));
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) continue;
        throw error;
      }
    }
    const refused = _refusedFileType(seen);
    if (refused !== undefined) return err(refused);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const opened = await file.stat().catch(() => undefined);
    if (opened !== undefined && opened.dev === seen.dev && opened.ino === seen.ino) return ok(file);
    file.close();
  }
  return err(
    `it was replaced between its check and its open ${MAX_OPEN_ATTEMPTS} times in a row ` +
      "(is something swapping it?); nothing was written to it",
  );
}

/** Why what is at the path cannot be the pid file, or `undefined` for a regular file with one link. */
function _refusedFileType(info: Deno.FileInfo): string | undefined {
  const fix = "remove it, or choose a path in a folder only the server's user can write";
  if (info.isSymlink) {
    return "it is a symbolic link, and a pid file must be a regular file or absent so that no " +
      `link can turn the write to another file; ${fix}`;
  }
  if (!info.isFile) return `it is not a regular file (${_fileType(info)}); ${fix}`;
  if ((info.nlink ?? 1) > 1) {
    return `it has ${info.nlink} hard links, so writing it would change another file too; ${fix}`;
  }
  return undefined;
}

function _fileType(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a named pipe";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice || info.isBlockDevice) return "a device";
  return "a special file";
}

function _lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
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
