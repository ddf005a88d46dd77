// Client address allowlists: "10.0.0.0/8", "192.168.1.7" (= /32), "2001:db8::/32",
// "::1" (= /128). Parsing happens once (key load); the per-request check is a few
// integer masks. IPv4 and IPv6 are separate families, as in nginx and most firewalls
// ("::/0" does not admit IPv4 clients), except that an IPv4-mapped IPv6 address
// ("::ffff:10.0.0.1", what a dual-stack socket reports for an IPv4 client) is its IPv4
// address, and a CIDR inside ::ffff:0:0/96 is the IPv4 range it maps.

export interface Cidr {
  family: 4 | 6;
  /** Network address as unsigned 32-bit words: one for IPv4, four for IPv6, host bits cleared. */
  words: readonly number[];
  /** 0..32 (IPv4) or 0..128 (IPv6). */
  prefix: number;
}

interface Address {
  family: 4 | 6;
  words: number[];
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const fail = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });

function parseV4(s: string): Parsed<number> {
  const parts = s.split(".");
  if (parts.length !== 4) return fail(`"${s}" is not an IPv4 address: it needs 4 numbers separated by dots`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return fail(`"${p}" in "${s}" is not a number from 0 to 255`);
    // "010" is octal to some parsers and decimal to others: refuse rather than guess
    if (p.length > 1 && p.startsWith("0")) return fail(`"${p}" in "${s}" has a leading zero (ambiguous: octal or decimal?)`);
    const b = Number(p);
    if (b > 255) return fail(`${b} in "${s}" is more than 255`);
    n = n * 256 + b;
  }
  return { ok: true, value: n };
}

function hexGroups(part: string, s: string): Parsed<number[]> {
  if (part === "") return { ok: true, value: [] };
  const groups: number[] = [];
  for (const g of part.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return fail(g === "" ? `"${s}" has an empty group (":" where "::" or a number belongs)` : `"${g}" in "${s}" is not a group of 1 to 4 hex digits`);
    groups.push(parseInt(g, 16));
  }
  return { ok: true, value: groups };
}

/** 8 groups of 16 bits; the last two may be written as dotted IPv4 ("::ffff:1.2.3.4"). */
function parseV6(s: string): Parsed<number[]> {
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (!v4.ok) return v4;
    tail.push(Math.floor(v4.value / 65536), v4.value % 65536);
    // drop the dotted part; keep a "::" before it ("::1.2.3.4"), drop a single ":"
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return fail(`"${s}" has "::" more than once`);
  const head = hexGroups(halves[0] ?? "", s);
  if (!head.ok) return head;
  const rest = halves.length === 2 ? hexGroups(halves[1] ?? "", s) : { ok: true as const, value: [] };
  if (!rest.ok) return rest;
  const given = head.value.length + rest.value.length + tail.length;
  if (halves.length === 1 && given !== 8) return fail(`"${s}" is not an IPv6 address: it has ${given} groups, not 8 (or use "::")`);
  if (halves.length === 2 && given > 7) return fail(`"${s}" has too many groups for "::" to stand for any`);
  const zeros: number[] = new Array<number>(8 - given).fill(0);
  const groups = halves.length === 2 ? [...head.value, ...zeros, ...rest.value, ...tail] : [...head.value, ...rest.value, ...tail];
  const words = [0, 1, 2, 3].map((i) => (groups[2 * i] as number) * 65536 + (groups[2 * i + 1] as number));
  return { ok: true, value: words };
}

/** ::ffff:a.b.c.d → the IPv4 word; null when not IPv4-mapped. */
function mappedV4(words: readonly number[]): number | null {
  return words[0] === 0 && words[1] === 0 && words[2] === 0xffff ? (words[3] as number) : null;
}

function parseAddress(s: string): Parsed<Address> {
  if (s.includes(":")) {
    const v6 = parseV6(s);
    if (!v6.ok) return v6;
    const v4 = mappedV4(v6.value);
    return { ok: true, value: v4 === null ? { family: 6, words: v6.value } : { family: 4, words: [v4] } };
  }
  const v4 = parseV4(s);
  return v4.ok ? { ok: true, value: { family: 4, words: [v4.value] } } : v4;
}

/** The mask of one 32-bit word when `bits` of the prefix fall into it (0..32), unsigned. */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

function parse(input: string): Parsed<Cidr> {
  const s = input.trim();
  if (s === "") return fail("an empty address");
  const slash = s.indexOf("/");
  const addrText = slash < 0 ? s : s.slice(0, slash);
  if (addrText.includes("%")) return fail(`"${s}" has a zone ("%..."), which an allowlist cannot use`);
  const addr = parseAddress(addrText);
  if (!addr.ok) return addr;
  // a v4 range written in mapped form keeps its meaning: ::ffff:10.0.0.0/104 = 10.0.0.0/8
  const written: 4 | 6 = addrText.includes(":") ? 6 : 4;
  const max = written === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return fail(`"${p}" after "/" in "${s}" is not a prefix length (0..${max})`);
    prefix = Number(p);
    if (prefix > max) return fail(`prefix length /${prefix} in "${s}" is more than ${max}, the most an IPv${written} address has`);
  }
  if (written === 6 && addr.value.family === 4) {
    if (prefix < 96) return fail(`"${s}" is wider than the IPv4-mapped range ::ffff:0:0/96; write the IPv4 and IPv6 parts as separate entries`);
    prefix -= 96;
  }
  const words = addr.value.words.map((w, i) => (w & wordMask(prefix - 32 * i)) >>> 0);
  return { ok: true, value: { family: addr.value.family, words, prefix } };
}

/** The range, or null when it does not parse (cidrProblem says why). */
export function parseCidr(s: string): Cidr | null {
  const r = parse(s);
  return r.ok ? r.value : null;
}

/** Why s is not an address or range, in words an operator can act on; null when it is one. */
export function cidrProblem(s: string): string | null {
  const r = parse(s);
  return r.ok ? null : r.problem;
}

/** Parses a client address (as the server reports it; an IPv6 zone is ignored); null if not one. */
export function parseIp(ip: string): { family: 4 | 6; words: readonly number[] } | null {
  const zone = ip.indexOf("%");
  const r = parseAddress(zone < 0 ? ip : ip.slice(0, zone));
  return r.ok ? r.value : null;
}

/** A strict dotted quad as a number, without allocating; -1 for anything else. */
function quickV4(s: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero: let parseIp refuse it
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? n * 256 + part : -1;
}

/**
 * A per-request check for a key's allowlist, built once when the key is loaded.
 * An empty list admits every address; an address that does not parse is refused.
 * Entries are checked when a key is saved; one that still does not parse (a database
 * edited by hand) admits nothing rather than failing the whole key index: fail closed.
 */
export function compileIpAllowlist(cidrs: readonly string[]): (ip: string) => boolean {
  if (cidrs.length === 0) return () => true;
  const v4: { net: number; mask: number }[] = [];
  const v6: { net: readonly number[]; mask: number[] }[] = [];
  for (const text of cidrs) {
    const c = parse(text);
    if (!c.ok) continue;
    const { family, words, prefix } = c.value;
    if (family === 4) v4.push({ net: words[0] as number, mask: wordMask(prefix) });
    else v6.push({ net: words, mask: [0, 1, 2, 3].map((i) => wordMask(prefix - 32 * i)) });
  }
  const inV4 = (w: number): boolean => {
    for (const r of v4) if ((w & r.mask) >>> 0 === r.net) return true;
    return false;
  };
  return (ip) => {
    // the common shapes ("10.1.2.3", "::ffff:10.1.2.3") without the general parser
    let w = quickV4(ip);
    if (w < 0 && ip.startsWith("::ffff:")) w = quickV4(ip.slice(7));
    if (w >= 0) return inV4(w);
    const a = parseIp(ip);
    if (a === null) return false;
    if (a.family === 4) return inV4(a.words[0] as number);
    for (const r of v6) {
      let hit = true;
      for (let i = 0; i < 4 && hit; i++) hit = ((a.words[i] as number) & (r.mask[i] as number)) >>> 0 === r.net[i];
      if (hit) return true;
    }
    return false;
  };
}
