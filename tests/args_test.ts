import assert from "node:assert/strict";
import { parseFlags, unexpectedArgument } from "../lib/cli/args.ts";
import { test } from "./_time_limit.ts";

const SPECS = {
  port: { type: "string" },
  watch: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

test("string flags take the next argument or the text after =, and the last one given wins", () => {
  const parsed = parseFlags(["--port", "80", "--port=81", "--watch", "-h", "run"], SPECS);
  assert.deepEqual(parsed, {
    ok: true,
    value: {
      values: { port: "81", watch: true, help: true },
      positionals: ["run"],
      beforeDashes: 1,
    },
  });
});

test("everything after -- is a plain argument, and = keeps an empty or dashed value", () => {
  assert.deepEqual(parseFlags(["--port=", "--", "--watch"], SPECS), {
    ok: true,
    value: { values: { port: "" }, positionals: ["--watch"], beforeDashes: 0 },
  });
  assert.deepEqual(parseFlags(["--port=-1"], SPECS), {
    ok: true,
    value: { values: { port: "-1" }, positionals: [], beforeDashes: 0 },
  });
});

test("unknown flags, missing values and values given to switches are errors that name the flag", () => {
  assert.deepEqual(parseFlags(["--bogus"], SPECS), {
    ok: false,
    error: 'unknown option "--bogus"',
  });
  assert.deepEqual(parseFlags(["-x"], SPECS), { ok: false, error: 'unknown option "-x"' });
  assert.deepEqual(parseFlags(["--toString"], SPECS), {
    ok: false,
    error: 'unknown option "--toString"',
  });
  assert.deepEqual(parseFlags(["--port"], SPECS), {
    ok: false,
    error: 'option "--port" needs a value: --port <value>',
  });
  assert.deepEqual(parseFlags(["--port", "--watch"], SPECS), {
    ok: false,
    error: 'option "--port" needs a value: --port <value>',
  });
  assert.deepEqual(parseFlags(["--watch=yes"], SPECS), {
    ok: false,
    error: 'option "--watch" takes no value',
  });
});

test("an argument a command does not take is named, and one after -- says that -- ended the options", () => {
  const parsed = (args: string[]) => {
    const result = parseFlags(args, SPECS);
    assert.ok(result.ok);
    return result.value;
  };
  assert.equal(unexpectedArgument(parsed(["--watch"])), undefined);
  assert.equal(unexpectedArgument(parsed(["extra", "--watch"])), 'unexpected argument "extra"');
  assert.equal(
    unexpectedArgument(parsed(["--", "--port", "9000"])),
    'unexpected argument "--port" after "--", which ends the options: drop the "--" ' +
      "(deno task passes what follows the task's name as it is)",
  );
  // A command taking one plain argument (the control client's reload) looks past it.
  assert.equal(unexpectedArgument(parsed(["reload"]), 1), undefined);
  assert.match(
    unexpectedArgument(parsed(["reload", "--", "--port"]), 1) ?? "",
    /^unexpected argument "--port" after "--"/,
  );
  assert.equal(unexpectedArgument(parsed(["reload", "now"]), 1), 'unexpected argument "now"');
});
