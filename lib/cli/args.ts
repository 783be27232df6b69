/**
 * A strict command-line flag parser for the server and its client. It does what
 * they used `node:util`'s `parseArgs` for, without loading Deno's Node
 * compatibility layer (several MiB of resident memory) into the server.
 *
 * @module
 */

import { err, ok, type Result } from "../ground/result.ts";

/** One flag a command accepts: a string value, or a boolean switch. */
export interface FlagSpec {
  /** `string` takes a value (`--port 80` or `--port=80`); `boolean` takes none. */
  readonly type: "string" | "boolean";
  /** A one-letter alias, used as `-h`. */
  readonly short?: string;
}

/** The values a {@linkcode FlagSpec} table parses into: strings, or `true` for switches. */
export type FlagValues<T extends Record<string, FlagSpec>> = {
  readonly [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string;
};

/** What {@linkcode parseFlags} found: the flags' values and the plain arguments. */
export interface ParsedFlags<T extends Record<string, FlagSpec>> {
  /** Each given flag's value; a flag given twice keeps its last value. */
  readonly values: FlagValues<T>;
  /** The arguments that are not flags, in order; everything after `--` is one. */
  readonly positionals: readonly string[];
  /** How many of `positionals` came before a `--` (all of them when there was none). */
  readonly beforeDashes: number;
}

/**
 * The error line for the first of `positionals` from `from` on, which the command does not take,
 * or `undefined` if there is none. After a `--` it says so: `deno task start -- --port 9000`
 * (npm's habit) hands the server `--` and then `--port 9000` as plain arguments.
 */
export function unexpectedArgument<T extends Record<string, FlagSpec>>(
  parsed: ParsedFlags<T>,
  from = 0,
): string | undefined {
  const argument = parsed.positionals[from];
  if (argument === undefined) return undefined;
  if (from < parsed.beforeDashes) return `unexpected argument "${argument}"`;
  return `unexpected argument "${argument}" after "--", which ends the options: drop the "--" ` +
    "(deno task passes what follows the task's name as it is)";
}

/** Parses `args` against a table of flags; an unknown flag or a missing value is an error line. */
export function parseFlags<T extends Record<string, FlagSpec>>(
  args: readonly string[],
  specs: T,
): Result<ParsedFlags<T>, string> {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  let beforeDashes: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      beforeDashes = positionals.length;
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const written = equals === -1 ? arg : arg.slice(0, equals);
    const name = _flagName(written, specs);
    const spec = name === undefined ? undefined : specs[name];
    if (name === undefined || spec === undefined) return err(`unknown option "${written}"`);
    if (spec.type === "boolean") {
      if (equals !== -1) return err(`option "${written}" takes no value`);
      values[name] = true;
      continue;
    }
    if (equals !== -1) {
      values[name] = arg.slice(equals + 1);
      continue;
    }
    const next = args[i + 1];
    // A negative number (`--warn-days -1`) is a value, for its flag's own check to refuse by name.
    if (next === undefined || next.startsWith("-") && next !== "-" && !NEGATIVE_NUMBER.test(next)) {
      return err(`option "${written}" needs a value: ${written} <value>`);
    }
    values[name] = next;
    i++;
  }
  return ok({
    values: values as FlagValues<T>,
    positionals,
    beforeDashes: beforeDashes ?? positionals.length,
  });
}

const NEGATIVE_NUMBER = /^-\d/;

function _flagName(written: string, specs: Record<string, FlagSpec>): string | undefined {
  if (written.startsWith("--")) {
    const name = written.slice(2);
    return Object.hasOwn(specs, name) ? name : undefined;
  }
  const short = written.slice(1);
  return Object.keys(specs).find((name) => specs[name]?.short === short);
}
