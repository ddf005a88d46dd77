// Durations and sizes as operators write them in the config, and back.
// Durations are Go-style: a number and a unit, optionally repeated ("1h30m"). A bare
// number is refused on purpose: "timeout: 30" is seconds to some readers and
// milliseconds to others, and a wrong guess is a silent 1000x error.

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

export const DURATION_HINT = "use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s";

/** "500ms" → 500, "1.5s" → 1500, "1h30m" → 5400000; null when not a duration. Rounded to whole ms. */
export function parseDuration(s: string): number | null {
  if (typeof s !== "string" || !DURATION_RE.test(s)) return null;
  let ms = 0;
  for (const m of s.matchAll(DURATION_PART_RE)) {
    ms += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
  }
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** 500 → "500ms", 5000 → "5s", 90000 → "90s", 600000 → "10m", 1500 → "1.5s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  for (const [unit, factor] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]] as const) {
    if (ms % factor === 0) return `${ms / factor}${unit}`;
  }
  if (ms % 1000 === 0 || ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}

// Decimal units (KB = 1000) and binary ones (KiB = 1024) mean what they say; the unit is
// case-insensitive because "100kb" and "10mb" are common and unambiguous enough.
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const SIZE_RE = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/;

export const SIZE_HINT = "use a number of bytes, or a number and a unit (KB, MB, GB, KiB, MiB, GiB), e.g. 512KiB or 10MiB";

/** 1024 → 1024, "512KiB" → 524288, "10MB" → 10000000, "100kb" → 100000; null when invalid. */
export function parseSize(s: string | number): number | null {
  if (typeof s === "number") return Number.isSafeInteger(s) && s >= 0 ? s : null;
  if (typeof s !== "string") return null;
  const m = SIZE_RE.exec(s);
  if (!m) return null;
  const unit = (m[2] as string).toLowerCase();
  const factor = unit === "" ? 1 : SIZE_UNITS[unit];
  if (factor === undefined) return null;
  // A fraction of a byte makes no sense: "1.5" and "1.5B" are refused, "1.5KiB" is fine.
  if (factor === 1 && m[1]?.includes(".")) return null;
  const bytes = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})$/;

/** Date.UTC rolls 2027-02-30 over to March; a real date reads back the same. */
function utcDate(y: number, mo: number, d: number): number | null {
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d ? ms : null;
}

/**
 * A point in time as operators write it (key expiry, usage report periods): a UTC date
 * ("2027-01-31", its 00:00) or a date and time with a zone ("2027-01-31T12:00:00Z",
 * "...+02:00", optional seconds and milliseconds); ms since the epoch, null otherwise.
 */
export function parseAbsoluteTime(s: string): number | null {
  const date = DATE_RE.exec(s);
  // a bare date is the start of that UTC day: "--expires 2027-01-31" stops working on the 31st
  if (date) return utcDate(Number(date[1]), Number(date[2]), Number(date[3]));
  const dt = DATE_TIME_RE.exec(s);
  if (!dt) return null;
  const day = utcDate(Number(dt[1]), Number(dt[2]), Number(dt[3]));
  const [h, mi, sec] = [Number(dt[4]), Number(dt[5]), Number(dt[6] ?? 0)];
  if (day === null || h > 23 || mi > 59 || sec > 59) return null;
  const zone = dt[8] as string;
  const offsetMin = zone === "Z" ? 0 : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const frac = Number((dt[7] ?? "0").padEnd(3, "0"));
  return day + ((h * 60 + mi - offsetMin) * 60 + sec) * 1000 + frac;
}
