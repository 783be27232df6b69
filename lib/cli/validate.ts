/**
 * `deno task validate`: checks certificate (and key) files offline, without a
 * running server, like `nginx -t` or `caddy validate`: the loader's checks,
 * and with `--against <served.pem>` the renewal checks a reload makes against
 * the certificate being served (dropped names, earlier expiry, key type).
 * It answers in the words and JSON shape of a reload's dry run.
 *
 * ```sh
 * deno task validate --cert /etc/tls/new.pem --key /etc/tls/new.key
 * deno task validate --cert new.pem --key new.key --against /etc/tls/tls.crt --json
 * ```
 *
 * Exit 0 when a reload would take the files, 1 when it would refuse them, 2 for a bad
 * command line or an `--against` file that cannot be read. It needs read access to the
 * files it is given and nothing else: no network, no writes.
 *
 * @module
 */

import {
  type Certificate,
  type CertificateError,
  loadCertificate,
} from "../certificate/certificate.ts";
import { describeError } from "../certificate/describe_error.ts";
import { EXIT_CODE } from "../ground/exit_code.ts";
import { err, ok, type Result } from "../ground/result.ts";
import { describeCertificate, formatOutcome, OUTCOME_EXIT_CODE } from "../reload/outcome_words.ts";
import { Reloader, type ReloadOutcome } from "../reload/reloader.ts";
import { describeReloadError } from "../reload/renewal.ts";
import { DEFAULT_WARN_DAYS } from "../reload/expiry.ts";
import { certificateStatus, errorJson, reloadJson } from "../control/status_view.ts";
import { parseFlags, unexpectedArgument } from "./args.ts";

/** The usage text of `deno task validate`. */
export const VALIDATE_USAGE =
  `Usage: deno task validate --cert <path> [--key <path>] [--against <served.pem>] [--json]

Checks certificate (and key) files offline, as a reload would, and prints the answer a
reload's dry run would give (POST /reload_certs?dry_run=1). No server, no network.

Options:
  --cert <path>          certificate PEM file, leaf first (required)
  --key <path>           its private key PEM file
  --against <path>       the certificate being served: also make the renewal checks of a
                         reload (names it covers that the new one drops, earlier expiry, key type)
  --allow-dropped-names  with --against: accept a renewal that drops names (still reported)
  --json                 print the JSON a reload answers under Accept: application/json
  -h, --help             print this help

Exit codes: 0 a reload would take the files, 1 it would refuse them, 2 a bad command line.
`;

/** The trigger named in the JSON of an offline check. */
const VALIDATE_TRIGGER = "validate";
/** What an offline check's line ends with. */
const OFFLINE_TAIL = "; checked offline, nothing is served";

interface Request {
  readonly cert: string;
  readonly key: string | undefined;
  readonly against: string | undefined;
  readonly allowDroppedNames: boolean;
  readonly json: boolean;
}

/** Runs `validate`; returns the exit code. */
export async function runValidate(args: readonly string[], now = new Date()): Promise<number> {
  const parsed = _parse(args);
  if (!parsed.ok) {
    console.error(`signal-server: ${parsed.error}\n\n${VALIDATE_USAGE}`);
    return EXIT_CODE.usage;
  }
  if (parsed.value === "help") {
    console.log(VALIDATE_USAGE);
    return EXIT_CODE.stopped;
  }
  const request = parsed.value;
  const paths = { cert: request.cert, key: request.key };
  if (request.against === undefined) {
    const loaded = await loadCertificate(paths, { now });
    _print(loaded.ok, request.json ? _offlineJson(loaded, now) : _offlineLine(loaded, now));
    return loaded.ok ? EXIT_CODE.stopped : EXIT_CODE.startupFailed;
  }
  const served = await _loadServed(request.against, now);
  if (!served.ok) {
    console.error(`signal-server: --against: ${describeError(served.error)}`);
    return EXIT_CODE.usage;
  }
  // The very checks of a reload: a reloader serving the --against certificate, asked for a dry run.
  const reloader = new Reloader(served.value, {
    load: (at) => loadCertificate(paths, { now: at }),
    clock: () => now,
    loadedAt: now,
  });
  const outcome = await reloader.reload("api", {
    dryRun: true,
    allowDroppedNames: request.allowDroppedNames,
  });
  _print(
    outcome.kind !== "failed",
    request.json ? _againstJson(outcome, reloader) : formatOutcome(outcome),
  );
  return OUTCOME_EXIT_CODE[outcome.kind];
}

/** How often the served certificate is read again at a date within its validity. */
const SERVED_VALIDITY_RETRIES = 2;

/**
 * Loads the `--against` certificate whatever its dates: the one being served may well have expired
 * (the reason to renew), and the renewal checks need its names and key only. An `expired` or
 * `not_yet_valid` answer is asked again at a moment the refused date allows.
 */
async function _loadServed(
  path: string,
  now: Date,
): Promise<Result<Certificate, CertificateError>> {
  let loaded = await loadCertificate({ cert: path }, { now });
  for (let retry = 0; retry < SERVED_VALIDITY_RETRIES && !loaded.ok; retry++) {
    const error = loaded.error;
    if (error.kind === "expired") {
      loaded = await loadCertificate({ cert: path }, {
        now: new Date(error.notAfter.getTime() - 1),
      });
    } else if (error.kind === "not_yet_valid") {
      loaded = await loadCertificate({ cert: path }, { now: error.notBefore });
    } else break;
  }
  return loaded;
}

function _offlineLine(loaded: Result<Certificate, CertificateError>, now: Date): string {
  return loaded.ok
    ? `would load: ${describeCertificate(loaded.value, now)}${OFFLINE_TAIL}`
    : `would fail: ${describeReloadError(loaded.error)}${OFFLINE_TAIL}`;
}

function _offlineJson(loaded: Result<Certificate, CertificateError>, now: Date): string {
  const since = { at: now, trigger: "startup" as const };
  return JSON.stringify(
    {
      ok: loaded.ok,
      outcome: loaded.ok ? "loaded" : "failed",
      dry_run: true,
      trigger: VALIDATE_TRIGGER,
      message: _offlineLine(loaded, now),
      certificate: loaded.ok
        ? certificateStatus(loaded.value, since, now, DEFAULT_WARN_DAYS)
        : null,
      ...(loaded.ok ? {} : { error: errorJson(loaded.error) }),
    },
    null,
    2,
  );
}

function _againstJson(outcome: ReloadOutcome, reloader: Reloader): string {
  const answer = JSON.parse(reloadJson(outcome, reloader.activeSince, DEFAULT_WARN_DAYS));
  return JSON.stringify({ ...answer, trigger: VALIDATE_TRIGGER }, null, 2);
}

function _print(good: boolean, text: string): void {
  (good ? console.log : console.error)(text.trimEnd());
}

function _parse(args: readonly string[]): Result<Request | "help", string> {
  const flags = parseFlags(args, {
    cert: { type: "string" },
    key: { type: "string" },
    against: { type: "string" },
    "allow-dropped-names": { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (!flags.ok) return flags;
  const { values } = flags.value;
  if (values.help) return ok("help");
  const unexpected = unexpectedArgument(flags.value);
  if (unexpected !== undefined) return err(unexpected);
  if (values.cert === undefined || values.cert === "") return err("--cert <path> is required");
  for (const flag of ["key", "against"] as const) {
    if (values[flag] === "") return err(`--${flag} must not be empty`);
  }
  if (values["allow-dropped-names"] && values.against === undefined) {
    return err("--allow-dropped-names needs --against: without it there are no names to drop");
  }
  return ok({
    cert: values.cert,
    key: values.key,
    against: values.against,
    allowDroppedNames: values["allow-dropped-names"] ?? false,
    json: values.json ?? false,
  });
}

if (import.meta.main) {
  Deno.exit(await runValidate(Deno.args));
}
