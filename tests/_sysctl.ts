/**
 * `net.ipv4.tcp_migrate_req` for the tests, through the `sysctl` command
 * (Deno 2.9.6 reads /proc only under --allow-all). Setting it needs root;
 * where the machine refuses, the tests say what they measured instead.
 *
 * @module
 */

const KEY = "net.ipv4.tcp_migrate_req";

async function sysctl(args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const output = await new Deno.Command("sysctl", { args, stdout: "piped", stderr: "piped" })
      .output();
    return { ok: output.success, out: new TextDecoder().decode(output.stdout).trim() };
  } catch {
    return { ok: false, out: "" };
  }
}

/** The current value (0 or 1), or `undefined` when it cannot be read. */
export async function readMigration(): Promise<number | undefined> {
  const read = await sysctl(["-n", KEY]);
  return read.ok ? Number(read.out) : undefined;
}

/** Sets the value for the duration of `body` and restores it; returns `false` (without running `body`) when it cannot be set. */
export async function withMigration(
  value: 0 | 1,
  body: () => Promise<void>,
): Promise<boolean> {
  const before = await readMigration();
  if (before === undefined) return false;
  if (before !== value && !(await sysctl(["-w", `${KEY}=${value}`])).ok) return false;
  try {
    await body();
  } finally {
    if (before !== value) await sysctl(["-w", `${KEY}=${before}`]);
  }
  return true;
}

/** Why `value` cannot be had for a test here, or `undefined` when it can (it is, or it can be set). */
export async function migrationUnavailable(value: 0 | 1): Promise<string | undefined> {
  const now = await readMigration();
  if (now === undefined) return `${KEY} cannot be read here (no sysctl command)`;
  if (now === value) return undefined;
  // Writing the value it already has changes nothing, and tells whether it can be written.
  if ((await sysctl(["-w", `${KEY}=${now}`])).ok) return undefined;
  return `${KEY} is ${now} and cannot be set to ${value} here (it needs root in this network namespace)`;
}
