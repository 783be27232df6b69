/**
 * The README and docs/ hold together: every relative link points at a file that exists, every
 * `#anchor` at a heading of the page it names (GitHub's slug rules), and the README stays a
 * five-minute read.
 */

import assert from "node:assert/strict";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;

/** The README's length limit, in lines. */
const README_MAX_LINES = 250;

/**
 * Pages other helpers write; until the lead merges them, links to them are let through when the
 * file is absent (and checked like any other once it exists).
 */
const PAGES_WRITTEN_ELSEWHERE = [
  "docs/hardening.md",
  "docs/certificates.md",
  "docs/testing.md",
  "docs/security.md",
  "docs/renewals.md",
];

/** A Markdown link found in a page. */
interface FoundLink {
  /** The page it is in, relative to the repository. */
  readonly page: string;
  /** 1-based line number. */
  readonly line: number;
  /** The target as written, e.g. `docs/https.md#how-it-works`. */
  readonly target: string;
}

/** The text of a page with fenced code blocks and inline code blanked out (lines kept). */
function withoutCode(markdown: string): string {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line.replace(/`[^`]*`/g, (code) => " ".repeat(code.length));
  }).join("\n");
}

/** Every inline link and image target of a page, outside code. */
function linksOf(page: string, markdown: string): FoundLink[] {
  const found: FoundLink[] = [];
  withoutCode(markdown).split("\n").forEach((text, index) => {
    for (const match of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ page, line: index + 1, target: match[1] as string });
    }
  });
  return found;
}

/** GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to hyphens. */
function slugOf(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links and images: their text
    .replace(/`([^`]*)`/g, "$1") // inline code: its text
    .replace(/<[^>]+>/g, "") // inline HTML
    .replace(/\*+/g, ""); // emphasis
  return text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

/** The anchors a page's headings get, numbered `-1`, `-2` … when a slug repeats, as GitHub does. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = slugOf(heading[1] as string);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** What is wrong with one link (a missing file or anchor), or `undefined` when it resolves. */
export async function brokenReason(
  link: FoundLink,
  read: (path: string) => Promise<string | undefined>,
  exists: (path: string) => Promise<boolean>,
): Promise<string | undefined> {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return undefined; // https:, mailto: …
  const [pathPart = "", anchor] = link.target.split("#", 2);
  const base = link.page.includes("/") ? link.page.replace(/[^/]+$/, "") : "";
  const path = pathPart === "" ? link.page : _normalize(base + decodeURIComponent(pathPart));
  if (path.startsWith("../")) return `"${link.target}" leaves the repository`;
  if (!(await exists(path))) {
    return PAGES_WRITTEN_ELSEWHERE.includes(path) ? undefined : `"${path}" does not exist`;
  }
  if (anchor === undefined || anchor === "") return undefined;
  if (!path.endsWith(".md")) return `"${link.target}": an anchor into a file that is not Markdown`;
  const text = await read(path);
  if (text === undefined) return `"${path}" cannot be read`;
  return anchorsOf(text).has(anchor) ? undefined : `"${path}" has no heading for #${anchor}`;
}

function _normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && parts.length > 0 && parts.at(-1) !== "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/") + (path.endsWith("/") ? "/" : "");
}

async function _read(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(REPO + path);
  } catch {
    return undefined;
  }
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(REPO + path);
    return true;
  } catch {
    return false;
  }
}

async function _pages(): Promise<string[]> {
  const pages = ["README.md"];
  for await (const entry of Deno.readDir(`${REPO}docs`)) {
    if (entry.isFile && entry.name.endsWith(".md")) pages.push(`docs/${entry.name}`);
  }
  return pages.sort();
}

test("every relative link and #anchor in README.md and docs/*.md resolves", async () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of await _pages()) {
    for (const link of linksOf(page, (await _read(page)) ?? "")) {
      checked++;
      const reason = await brokenReason(link, _read, _exists);
      if (reason) broken.push(`${link.page}:${link.line}: ${reason}`);
    }
  }
  assert.deepEqual(broken, [], `broken links:\n${broken.join("\n")}`);
  assert.ok(checked > 20, `only ${checked} links found: is the link pattern still right?`);
});

test("a missing page, a missing anchor and a link out of the repository are reported; code is skipped", async () => {
  const page = "docs/x.md";
  const text = [
    "# Title",
    "## The `--watch` flag: files (and links)",
    "## Title",
    "[ok](#title-1) [ok](#the---watch-flag-files-and-links) [ok](../README.md#documentation)",
    "[gone](nowhere.md) [no anchor](#nope) [out](../../etc/passwd) [web](https://example.com)",
    "`[in code](missing.md)`",
    "```",
    "[in a block](missing.md)",
    "```",
  ].join("\n");
  const read = (path: string) =>
    Promise.resolve(path === page ? text : path === "README.md" ? "## Documentation" : undefined);
  const exists = (path: string) => Promise.resolve(path === page || path === "README.md");
  const reasons = [];
  for (const link of linksOf(page, text)) reasons.push(await brokenReason(link, read, exists));
  assert.deepEqual(reasons, [
    undefined,
    undefined,
    undefined,
    '"docs/nowhere.md" does not exist',
    '"docs/x.md" has no heading for #nope',
    '"../../etc/passwd" leaves the repository',
    undefined,
  ]);
  const elsewhere = { page: "README.md", line: 1, target: "docs/renewals.md" };
  assert.equal(await brokenReason(elsewhere, read, exists), undefined, "absent until merged");
  assert.equal(
    await brokenReason(
      { ...elsewhere, target: "docs/renewals.md#x" },
      read,
      () => Promise.resolve(true),
    ),
    '"docs/renewals.md" cannot be read',
    "checked once it exists",
  );
});

test(`the README is at most ${README_MAX_LINES} lines`, async () => {
  const lines = ((await _read("README.md")) ?? "").split("\n").length - 1;
  assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines`);
});

/** The property names of an exported interface in a TypeScript source, in order. */
function interfaceProperties(source: string, name: string): string[] {
  const start = source.indexOf(`export interface ${name} {`);
  assert.ok(start !== -1, `interface ${name} found`);
  const body = source.slice(start, source.indexOf("\n}", start));
  return [...body.matchAll(/^ {2}readonly (\w+)\??:/gm)].map((match) => match[1] as string);
}

/** The first-column code names of the Markdown table whose header starts with `header`. */
function tableNames(markdown: string, header: string): string[] {
  const lines = markdown.split("\n");
  const at = lines.findIndex((line) => line.startsWith(`| ${header}`));
  assert.ok(at !== -1, `a table headed "${header}"`);
  const names: string[] = [];
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith("|")) break;
    const cell = line.split("|")[1] ?? "";
    for (const code of cell.matchAll(/`([^`]+)`/g)) {
      names.push((code[1] as string).replace(/\(.*$/, "").trim());
    }
  }
  return names;
}

test("docs/library.md lists every option of ServeWithReloadOptions and ControlAddress", async () => {
  const source = (await _read("lib/api/serve_options.ts")) ?? "";
  const page = (await _read("docs/library.md")) ?? "";
  const documented = tableNames(page, "`serveWithReload(options)` option");
  for (const option of interfaceProperties(source, "ServeWithReloadOptions")) {
    assert.ok(documented.includes(option), `docs/library.md leaves out the option ${option}`);
  }
  const control = tableNames(page, "`control` (`ControlAddress`)");
  for (const option of interfaceProperties(source, "ControlAddress")) {
    assert.ok(control.includes(option), `docs/library.md leaves out control.${option}`);
  }
});

test("docs/control-api.md lists exactly the metric families /metrics serves", async () => {
  const { ReloadMetrics } = await import("../lib/control/metrics.ts");
  const { fakeCertificate } = await import("./_certificates.ts");
  // With a disk look, so that the drift gauge is served too, as the server serves it.
  const metrics = new ReloadMetrics(14, () => Promise.resolve({ state: "same" }));
  metrics.record({
    kind: "loaded",
    trigger: "startup",
    at: new Date(),
    durationMs: 1,
    certificate: fakeCertificate("AA"),
  });
  const { ServerMetrics } = await import("../lib/control/server_metrics.ts");
  const text = `${await metrics.render()}\n${new ServerMetrics().render()}`;
  const served = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
  const page = (await _read("docs/control-api.md")) ?? "";
  const documented = tableNames(page, "metric").map((name) => name.replace(/\{.*$/, ""));
  assert.deepEqual([...documented].sort(), [...served].sort());
});
