// Reading Server-Sent Events the way a test needs them: whole bodies, the first few
// events of a stream that goes on, and the text of a chat or completions stream.

/** The data of each event (its data: lines joined), in order; comments and blank events skipped. */
export function sseData(text: string): string[] {
  const out: string[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(l.charCodeAt(5) === 32 ? 6 : 5));
    if (data.length) out.push(data.join("\n"));
  }
  return out;
}

/** The generated text of a chat or completions stream (delta.content / text of each chunk). */
export function streamedText(text: string): string {
  let out = "";
  for (const d of sseData(text)) {
    if (d === "[DONE]") continue;
    const obj = JSON.parse(d) as { choices?: { delta?: { content?: string | null }; text?: string }[] };
    for (const c of obj.choices ?? []) out += c.delta?.content ?? c.text ?? "";
  }
  return out;
}

/** Reads a body to its end or its failure: the text that arrived and the error, if any. */
export async function readUntilFailure(res: Response): Promise<{ text: string; error: unknown }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text: text + dec.decode(), error: null };
      text += dec.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

/**
 * Reads until `count` events with data have arrived and returns them; the rest of the
 * stream stays unread (the caller aborts or reads on with `reader`).
 */
export async function readEvents(res: Response, count: number) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const complete = buf.slice(0, buf.lastIndexOf("\n\n") + 1);
    const events = sseData(complete);
    if (events.length >= count) return { events, reader };
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended after ${events.length} events, wanted ${count}: ${buf}`);
    buf += dec.decode(value, { stream: true });
  }
}
