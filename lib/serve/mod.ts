/**
 * The serving layer: listening with bind failures as values and their words
 * (`listen.ts`), our own accept loops with timeouts, a connection cap, a
 * descriptor reserve and a stop deadline (`connections.ts`, limits in
 * `connection_limits.ts`), the app's handler (`app_server.ts`), the signal handlers
 * (`signals.ts`), and the HTTPS fronts that swap a certificate while they run
 * (`tls/`: the interface and choice in `tls_front.ts`, the native front, the
 * `node:https` fallback).
 *
 * May import: `lib/ground/`, `lib/certificate/`, `lib/reload/`.
 *
 * @module
 */
export {};
