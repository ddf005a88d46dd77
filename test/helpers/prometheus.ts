// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests
// that check what /metrics says rather than grep it: every line must be a `# HELP`, a
// `# TYPE`, a sample `name{label="value",...} value [timestamp]` or empty, and the
// families must hang together (one TYPE per name, before its samples; no series twice;
// histogram buckets cumulative and ending in +Inf == _count). Anything else throws, with
// the line number, so a malformed exposition fails the test instead of reading as 0.
// Other `#` comments are legal in the format, but llmproxy writes none: one here would
// be a change worth a look, so it is refused too.

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  /** The sample's own name (with _bucket, _sum, _count for histograms). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | null;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, Family>;
  /** The samples named `name` whose labels include `labels`. */
  samples(name: string, labels?: Record<string, string>): Sample[];
  /** Sum of those samples' values (0 when there are none). */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

class ExpositionError extends Error {
  constructor(lineNo: number, line: string, why: string) {
    super(`/metrics line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
    this.name = "ExpositionError";
  }
}

function parseValue(s: string): number | null {
  if (s === "+Inf" || s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  // Go's ParseFloat syntax: decimal with optional exponent (no hex, no blanks, no "")
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return null;
  return Number(s);
}

/** `{a="x",b="y"}` starting at s[0] === "{": the labels and the index after "}". */
function parseLabels(s: string, fail: (why: string) => never): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (s[i] === "}") return { labels, end: i + 1 };
    const eq = s.indexOf("=", i);
    if (eq < 0) fail("label without =");
    const name = s.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(`bad label name ${JSON.stringify(name)}`);
    if (name in labels) fail(`label ${name} twice`);
    if (s[eq + 1] !== '"') fail(`value of label ${name} is not quoted`);
    let j = eq + 2;
    let value = "";
    for (;;) {
      const c = s[j];
      if (c === undefined) fail(`unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === "\\") {
        const e = s[j + 1];
        if (e === "\\") value += "\\";
        else if (e === '"') value += '"';
        else if (e === "n") value += "\n";
        else fail(`bad escape \\${e ?? ""} in label ${name}`);
        j += 2;
        continue;
      }
      if (c === "\n") fail(`raw newline in label ${name}`);
      value += c;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") fail(`expected , or } after label ${name}`);
  }
}

/** The family a sample name belongs to: itself, or a histogram/summary's base name. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const own = families.get(name);
  if (own) return own;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = families.get(name.slice(0, -suffix.length));
    if (base && (base.type === "histogram" || (base.type === "summary" && suffix !== "_bucket"))) return base;
  }
  return undefined;
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",")}}`;
}

export function parsePrometheusText(text: string): Exposition {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  /** Families whose samples have begun, and the one being read: a family must be contiguous. */
  const started = new Set<string>();
  let current: string | null = null;
  const lines = text.split("\n");
  if (text.length > 0 && !text.endsWith("\n")) throw new ExpositionError(lines.length, lines.at(-1)!, "the last line has no newline");
  lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    const fail = (why: string): never => {
      throw new ExpositionError(lineNo, line, why);
    };
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) fail("a comment that is neither # HELP nor # TYPE");
      const [, kind, name, rest] = m!;
      if (!NAME.test(name!)) fail(`bad metric name ${JSON.stringify(name)}`);
      if (started.has(name!)) fail(`# ${kind} after the samples of ${name}`);
      let f = families.get(name!);
      if (kind === "TYPE") {
        if (!TYPES.has(rest as MetricType)) fail(`unknown type ${JSON.stringify(rest)}`);
        if (f && f.type !== "untyped") fail(`second # TYPE for ${name}`);
        if (f) f.type = rest as MetricType;
        else families.set(name!, (f = { name: name!, type: rest as MetricType, help: null, samples: [] }));
      } else {
        if (f?.help != null) fail(`second # HELP for ${name}`);
        // HELP text escapes only \\ and \n
        if (/\\[^\\n]/.test(rest ?? "") || /\\$/.test(rest ?? "")) fail("bad escape in # HELP");
        if (f) f.help = rest ?? "";
        else families.set(name!, (f = { name: name!, type: "untyped", help: rest ?? "", samples: [] }));
      }
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) fail("not a sample line");
    const name = line.slice(0, nameEnd);
    if (!NAME.test(name)) fail(`bad metric name ${JSON.stringify(name)}`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === "{") {
      const parsed = parseLabels(line.slice(i), fail);
      labels = parsed.labels;
      i += parsed.end;
    }
    if (line[i] !== " ") fail("no single space before the value");
    const fields = line.slice(i + 1).split(" ");
    if (fields.length > 2 || fields.some((f) => f === "")) fail("expected `value` or `value timestamp` after the name");
    const value = parseValue(fields[0]!);
    if (value === null) fail(`bad value ${JSON.stringify(fields[0])}`);
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) fail(`bad timestamp ${JSON.stringify(fields[1])}`);
    const family = familyOf(name, families);
    if (!family) fail(`sample of ${name} without a # TYPE before it`);
    if (current !== family!.name && started.has(family!.name)) fail(`samples of ${family!.name} are not contiguous`);
    current = family!.name;
    started.add(family!.name);
    if (family!.type === "histogram" && name === `${family!.name}_bucket` && !("le" in labels)) fail("histogram bucket without le");
    if (family!.type === "counter" && value! < 0) fail("negative counter");
    const key = seriesKey(name, labels);
    if (seen.has(key)) fail(`series ${key} twice`);
    seen.add(key);
    family!.samples.push({ name, labels, value: value! });
  });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  const samples = (name: string, labels: Record<string, string> = {}): Sample[] => {
    const f = familyOf(name, families);
    if (!f) return [];
    return f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  };
  return {
    families,
    samples,
    sum: (name, labels) => samples(name, labels).reduce((a, s) => a + s.value, 0),
  };
}

/** Buckets of each series cumulative, the last le="+Inf", equal to _count. */
function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count: number | null }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = seriesKey("", rest);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { buckets: [], count: null }));
    if (s.name === `${f.name}_bucket`) {
      const bound = parseValue(le!);
      if (bound === null || Number.isNaN(bound)) throw new Error(`/metrics: ${f.name} bucket with le=${JSON.stringify(le)}`);
      g.buckets.push([bound, s.value]);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
  }
  for (const [key, g] of groups) {
    const where = `${f.name}${key.slice(0)}`;
    if (g.buckets.length === 0 || g.count === null) throw new Error(`/metrics: histogram ${where} lacks buckets or _count`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (g.buckets[i]![0] <= g.buckets[i - 1]![0]) throw new Error(`/metrics: histogram ${where} buckets out of order`);
      if (g.buckets[i]![1] < g.buckets[i - 1]![1]) throw new Error(`/metrics: histogram ${where} buckets not cumulative`);
    }
    const last = g.buckets.at(-1)!;
    if (last[0] !== Infinity) throw new Error(`/metrics: histogram ${where} has no le="+Inf" bucket`);
    if (last[1] !== g.count) throw new Error(`/metrics: histogram ${where}: +Inf bucket ${last[1]} != _count ${g.count}`);
  }
}

/** GET the metrics page and parse it strictly. */
export async function scrapeMetrics(baseUrl: string, path = "/metrics"): Promise<Exposition> {
  const res = await fetch(`${baseUrl}${path}`);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("text/plain")) throw new Error(`GET ${path}: content-type ${type}, not the text format`);
  return parsePrometheusText(await res.text());
}

/**
 * Scrape until `ready(exposition)` holds. For values that change with no event a test
 * can await (a counter bumped after a database write, a gauge set after a webhook's
 * answer was read): bounded by a count of scrapes, each one a round trip, no sleep.
 */
export async function scrapeUntil(baseUrl: string, ready: (e: Exposition) => boolean, what: string, maxScrapes = 5000): Promise<Exposition> {
  let last: Exposition | null = null;
  for (let i = 0; i < maxScrapes; i++) {
    last = await scrapeMetrics(baseUrl);
    if (ready(last)) return last;
    // let timers of the test process (receivers, readers) run between two scrapes
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`/metrics never showed ${what} in ${maxScrapes} scrapes`);
}
