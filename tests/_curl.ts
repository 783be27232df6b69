/**
 * curl as a test client: for what `fetch` in the test process may not reach (a Unix socket
 * needs a net grant the test run does not have).
 *
 * @module
 */

/** Runs curl (at most 10 s) and returns the status, the body and curl's exit code. */
export async function curl(
  args: string[],
): Promise<{ status: number; body: string; code: number }> {
  const output = await new Deno.Command("curl", {
    args: [
      "--silent",
      "--show-error",
      "--max-time",
      "10",
      "--write-out",
      "\n%{http_code}",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const cut = text.lastIndexOf("\n");
  return { body: text.slice(0, cut), status: Number(text.slice(cut + 1)), code: output.code };
}
