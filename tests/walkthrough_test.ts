/**
 * The README's walk-through works with the project alone, as written: its commands run in a copy
 * of the project against the server its own `deno task start` starts (real curl, real signals),
 * and print the lines the README shows. See tests/_walkthrough.ts for what is normalized.
 */

import assert from "node:assert/strict";
import { runWalkthrough, walkthroughSteps } from "./_walkthrough.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;

test("the README's walk-through commands print what the README shows, against the real server", async () => {
  const steps = walkthroughSteps(await Deno.readTextFile(`${REPO}README.md`));
  const commands = steps.map((step) => step.command);
  for (const needed of [/task start$/, /task gen-cert --out renewed/, /--expired/, /kill -HUP/]) {
    assert.ok(commands.some((command) => needed.test(command)), `the walk-through has ${needed}`);
  }
  const results = await runWalkthrough(steps);
  assert.equal(results.length, steps.length);
  for (const result of results) {
    assert.deepEqual(
      result.got,
      result.want,
      `$ ${result.step.command}\nprinted:\n${result.actual.join("\n")}\n` +
        "(deno run -A tests/_walkthrough.ts --write puts today's outputs into the README)",
    );
  }
});
