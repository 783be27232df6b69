/**
 * The library's own types, which `mod.ts` exports and wires: the options of
 * `serveWithReload` and their checks (`serve_options.ts`), why a start failed
 * and its words (`start_error.ts`), and the union of every layer's notices
 * (`notice.ts`). Each notice kind is defined and worded by the layer that
 * produces it; this layer only joins them.
 *
 * May import: every layer below (`lib/ground/` to `lib/control/`), never `lib/cli/`.
 *
 * @module
 */
export {};
