/**
 * The certificate layer: reads and checks the certificate and key files and
 * returns a `Result<Certificate, CertificateError>` (`certificate.ts`, with
 * X.509 in `x509.ts`, keys in `private_key.ts` and their type in
 * `key_type.ts`); the words of every `CertificateError` live beside it
 * (`describe_error.ts`). Names are printed and compared as OpenSSL and
 * RFC 5280 do (`name.ts`), what Deno's TLS would refuse is refused first
 * (`servable.ts`), and signatures WebCrypto cannot check are checked another
 * way (`signature.ts`). It knows nothing of HTTP, signals, reloads or the
 * command line.
 *
 * May import: `lib/ground/`.
 *
 * @module
 */
export {};
