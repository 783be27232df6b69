/**
 * The deno.json tasks that start the server, by name, with the flags each
 * passes to `main.ts` after `--task <name>`. Each task's command is derived
 * from them (`lib/cli/task_words.ts`), and a test keeps deno.json in step, so
 * the server knows what the task that started it grants.
 *
 * @module
 */

/** The server tasks and the flags each adds to the user's. */
export const SERVER_TASKS = {
  start: [],
  "start:tls": ["--key", "key.pem"],
} as const satisfies Record<string, readonly string[]>;

/** The name of a task that starts the server. */
export type ServerTaskName = keyof typeof SERVER_TASKS;

/** The task names, for flag checks and messages. */
export const SERVER_TASK_NAMES = Object.keys(SERVER_TASKS) as ServerTaskName[];

/** Whether a name is one of {@linkcode SERVER_TASKS}. */
export function isServerTask(name: string): name is ServerTaskName {
  return Object.hasOwn(SERVER_TASKS, name);
}
