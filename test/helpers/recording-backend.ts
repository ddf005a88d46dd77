// A backend of the test's own on 127.0.0.1 port 0 that records every request it gets
// (method, path, query, headers, body) and answers with what the test's `answer`
// function returns: for what the shared mock cannot show or say (the exact URL an Azure
// deployment is called on, a stop_sequence stop, a tool loop that ends once the tool's
// result came back). Health probes (GET) are answered 200 and not recorded, so a test
// sees only the requests the gateway forwarded.

export interface RecordedRequest {
  method: string;
  /** The path as received, without the query. */
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: string;
  /** The body parsed as JSON (throws when it is not). */
  json(): Record<string, unknown>;
}

export type Answer = (req: RecordedRequest, raw: Request) => Response | Promise<Response>;

export interface RecordingBackend {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Every POST so far, in order of arrival. */
  requests: RecordedRequest[];
  /** The next POST to arrive; call it before sending the request. */
  next(): Promise<RecordedRequest>;
  stop(): Promise<void>;
}

export async function startRecordingBackend(answer: Answer): Promise<RecordingBackend> {
  const requests: RecordedRequest[] = [];
  const waiters: ((r: RecordedRequest) => void)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, srv) {
      srv.timeout(req, 0);
      const url = new URL(req.url);
      if (req.method !== "POST") return Response.json({ object: "list", data: [] });
      const body = await req.text();
      const rec: RecordedRequest = {
        method: req.method,
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        json: () => JSON.parse(body) as Record<string, unknown>,
      };
      requests.push(rec);
      waiters.shift()?.(rec);
      return await answer(rec, req);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    next: () => new Promise((r) => waiters.push(r)),
    async stop() {
      await server.stop(true);
    },
  };
}

/** A server-sent-events answer made of these events (each already `event:`/`data:` lines, without the blank line). */
export function sseAnswer(events: readonly string[]): Response {
  return new Response(events.map((e) => `${e}\n\n`).join(""), { headers: { "content-type": "text/event-stream" } });
}
