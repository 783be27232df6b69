/**
 * The reload core: the active certificate and the serialized reload that
 * decides reloaded / unchanged / failed (`reloader.ts`), the words of those
 * outcomes and the one table of their HTTP statuses and exit codes
 * (`outcome_words.ts`), the bounded history (`history.ts`), expiry warnings
 * over the whole chain (`expiry.ts`), the file watcher (`watcher.ts`), the
 * renewal checks against the served certificate (`renewal.ts`, with the
 * names a certificate serves in `names.ts`) and drift between the files on
 * disk and what is served (`drift.ts`). It knows nothing of
 * HTTP servers or the command line.
 *
 * May import: `lib/ground/`, `lib/certificate/`.
 *
 * @module
 */
export {};
