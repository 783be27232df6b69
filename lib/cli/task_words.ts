/**
 * What a server task grants, in words: each task's deno.json command, and,
 * when Deno refuses something at startup under a task, a line that says what
 * the task grants, what this run asked for, and how to get the grant (the
 * line `--print-command` prints). Under no task, the library's own words
 * (which name the flag that grants it) serve as they are.
 *
 * @module
 */

import type { StartError } from "../api/start_error.ts";
import { unreachable } from "../ground/result.ts";
import { type Options, parseOptions } from "./options.ts";
import { denoRunLine, grants, shellWord } from "./permissions.ts";
import { SERVER_TASKS, type ServerTaskName } from "./tasks.ts";

/** The options a task runs with when it is given no flags: what its grants are derived from. */
export function taskOptions(task: ServerTaskName): Options {
  const parsed = parseOptions(SERVER_TASKS[task]);
  if (!parsed.ok || parsed.value.kind !== "run") throw new Error(`task ${task}: bad flags`);
  return parsed.value.options;
}

/** The command deno.json holds for a task: the least-privilege line for its flags, marked with `--task`. */
export function taskCommand(task: ServerTaskName): string {
  return denoRunLine(taskOptions(task), ["--task", task, ...SERVER_TASKS[task]]);
}

/**
 * The line for a start that Deno's permissions refused under a task, or `undefined` when the error
 * is not such a refusal. `args` are the server flags the run was given (without `--task`), the
 * task's own first.
 */
export function formatTaskDenial(
  error: StartError,
  task: ServerTaskName,
  args: readonly string[],
): string | undefined {
  const granted = grants(taskOptions(task));
  // The task passes its own flags first; the operator typed the rest.
  const own: readonly string[] = SERVER_TASKS[task];
  const typed = own.every((arg, i) => args[i] === arg) ? args.slice(own.length) : args;
  const fix = `to grant it, run the line that deno task ${task} --print-command${
    typed.length === 0 ? "" : ` ${typed.map(shellWord).join(" ")}`
  } prints; the server was not started`;
  const quoted = (list: readonly string[]) => list.map((item) => `"${item}"`).join(" and ");
  const asked = (grant: string, target: string) =>
    `deno task ${task} ${grant} (the grant in its deno.json command), and this run asked for ` +
    `"${target}"`;
  switch (error.kind) {
    case "certificate":
    case "token": {
      const denied = error.error;
      if (denied.kind !== "permission_denied" || denied.deniedBy !== "deno") return undefined;
      if (denied.refusedPath !== undefined) return undefined; // A link's target: the library's words say it.
      return `startup failed: Cannot read ${denied.role} "${denied.path}": ` +
        `${asked(`may read only ${quoted(granted.read)}`, denied.path)} (is the path mistyped?); ` +
        fix;
    }
    case "pid_file":
      if (error.error.deniedByDeno !== true) return undefined;
      return `startup failed: Cannot use pid file "${error.error.path}": ` +
        `${
          asked(
            granted.write.length === 0
              ? "may write no file"
              : `may write only ${quoted(granted.write)}`,
            error.error.path,
          )
        }; ${fix}`;
    case "listen": {
      const denied = error.error;
      if (denied.kind !== "permission_denied" || denied.deniedBy !== "deno") return undefined;
      return `Cannot listen on ${denied.address} for the ${denied.server} server: ` +
        `${asked(`may listen only on ${quoted(granted.net)}`, denied.address)}; ${fix}`;
    }
    case "invalid_option":
      return undefined;
    default:
      return unreachable(error);
  }
}
