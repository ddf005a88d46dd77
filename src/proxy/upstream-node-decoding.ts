// Decoding a backend's content-encoding on Node (upstream-node.ts): Bun's fetch decodes
// gzip/deflate/br itself and keeps the headers; undici's dispatch() hands over the raw
// bytes, so the Node edge pipes them through node:zlib to give the same plain body.

import * as zlib from "node:zlib";

/** Codings we decode, so the ones we ask for (Bun's fetch asks for the same, plus zstd). */
const DECODERS: Record<string, () => Zstream> = {
  // Z_SYNC_FLUSH at the end as well: a stream cut short by the backend yields what it
  // had instead of an "unexpected end of file" (what undici.fetch and curl do)
  gzip: () => zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  "x-gzip": () => zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  deflate: () => zlib.createInflate({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  br: () =>
    zlib.createBrotliDecompress({
      flush: zlib.constants.BROTLI_OPERATION_FLUSH,
      finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
    }),
};
export const ACCEPT_ENCODING = "gzip, deflate, br";
/** More codings than this is an attack, not an answer (undici.fetch's limit, after curl's CVE-2022-32206). */
const MAX_CODINGS = 5;

export type Zstream = zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress;

/** Decoders piped one into the next: the body is written to `input`, read from `output`. */
export interface Decoding {
  input: Zstream;
  output: Zstream;
  all: Zstream[];
}

/** How to decode a content-encoding, null for none; throws for codings we cannot decode. */
export function decodingFor(contentEncoding: string | null): Decoding | null {
  if (contentEncoding === null) return null;
  const codings = contentEncoding.toLowerCase().split(",").map((c) => c.trim()).filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return null;
  if (codings.length > MAX_CODINGS) throw new Error(`the backend's answer has ${codings.length} content-encodings, at most ${MAX_CODINGS} are accepted`);
  // the last coding listed was applied last, so it is undone first (RFC 9110 §8.4)
  const all = codings.reverse().map((coding) => {
    const make = DECODERS[coding];
    // passing the bytes on would hand clients a body they cannot read (headers.ts drops content-encoding)
    if (!make) throw new Error(`the backend's answer has content-encoding "${coding}", which llmproxy on Node cannot decode`);
    return make();
  });
  for (let i = 1; i < all.length; i++) all[i - 1]!.pipe(all[i]!);
  return { input: all[0]!, output: all[all.length - 1]!, all };
}
