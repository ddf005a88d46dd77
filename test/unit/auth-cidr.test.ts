import { describe, expect, test } from "bun:test";
import { cidrProblem, compileIpAllowlist, parseCidr, parseIp } from "../../src/auth/cidr.ts";

const allow = (cidrs: string[]) => compileIpAllowlist(cidrs);

describe("parseCidr", () => {
  test("a bare IPv4 address is a /32, a bare IPv6 address a /128", () => {
    expect(parseCidr("192.168.1.7")).toEqual({ family: 4, words: [0xc0a80107], prefix: 32 });
    expect(parseCidr("::1")).toEqual({ family: 6, words: [0, 0, 0, 1], prefix: 128 });
  });

  test("host bits are cleared: 10.1.2.3/8 is the range 10.0.0.0/8", () => {
    expect(parseCidr("10.1.2.3/8")).toEqual({ family: 4, words: [0x0a000000], prefix: 8 });
    expect(parseCidr("2001:db8:ffff::1/32")).toEqual({ family: 6, words: [0x20010db8, 0, 0, 0], prefix: 32 });
  });

  test("IPv6 forms: full, compressed at start/middle/end, embedded IPv4, any case", () => {
    expect(parseCidr("2001:0db8:0000:0000:0000:0000:0000:0001")?.words).toEqual([0x20010db8, 0, 0, 1]);
    expect(parseCidr("::")?.words).toEqual([0, 0, 0, 0]);
    expect(parseCidr("fe80::")?.words).toEqual([0xfe800000, 0, 0, 0]);
    expect(parseCidr("1:2::7:8")?.words).toEqual([0x00010002, 0, 0, 0x00070008]);
    expect(parseCidr("64:ff9b::1.2.3.4")?.words).toEqual([0x0064ff9b, 0, 0, 0x01020304]);
    expect(parseCidr("2001:DB8::A")?.words).toEqual([0x20010db8, 0, 0, 0xa]);
  });

  test("an IPv4-mapped range is the IPv4 range it maps", () => {
    expect(parseCidr("::ffff:10.0.0.0/104")).toEqual({ family: 4, words: [0x0a000000], prefix: 8 });
    expect(parseCidr("::ffff:10.0.0.1")).toEqual({ family: 4, words: [0x0a000001], prefix: 32 });
  });

  test("/0 is everything of its family", () => {
    expect(parseCidr("0.0.0.0/0")).toEqual({ family: 4, words: [0], prefix: 0 });
    expect(parseCidr("::/0")).toEqual({ family: 6, words: [0, 0, 0, 0], prefix: 0 });
  });

  const BAD: [string, string][] = [
    ["", "an empty address"],
    ["10.0.0.0/33", 'prefix length /33 in "10.0.0.0/33" is more than 32, the most an IPv4 address has'],
    ["::/129", 'prefix length /129 in "::/129" is more than 128, the most an IPv6 address has'],
    ["300.1.1.1", '300 in "300.1.1.1" is more than 255'],
    ["1.2.3", '"1.2.3" is not an IPv4 address: it needs 4 numbers separated by dots'],
    ["1.2.3.4.5", '"1.2.3.4.5" is not an IPv4 address: it needs 4 numbers separated by dots'],
    ["010.0.0.1", '"010" in "010.0.0.1" has a leading zero (ambiguous: octal or decimal?)'],
    ["1.2.3.x", '"x" in "1.2.3.x" is not a number from 0 to 255'],
    ["::g", '"g" in "::g" is not a group of 1 to 4 hex digits'],
    ["1::2::3", '"1::2::3" has "::" more than once'],
    ["1:2:3:4:5:6:7", '"1:2:3:4:5:6:7" is not an IPv6 address: it has 7 groups, not 8 (or use "::")'],
    ["1:2:3:4:5:6:7:8:9", '"1:2:3:4:5:6:7:8:9" is not an IPv6 address: it has 9 groups, not 8 (or use "::")'],
    ["1:2:3:4::5:6:7:8", '"1:2:3:4::5:6:7:8" has too many groups for "::" to stand for any'],
    ["12345::", '"12345" in "12345::" is not a group of 1 to 4 hex digits'],
    [":1", '":1" has an empty group (":" where "::" or a number belongs)'],
    ["1:::2", '"1:::2" has an empty group (":" where "::" or a number belongs)'],
    ["10.0.0.0/", '"" after "/" in "10.0.0.0/" is not a prefix length (0..32)'],
    ["10.0.0.0/-1", '"-1" after "/" in "10.0.0.0/-1" is not a prefix length (0..32)'],
    ["10.0.0.0/8/8", '"8/8" after "/" in "10.0.0.0/8/8" is not a prefix length (0..32)'],
    ["fe80::1%eth0", '"fe80::1%eth0" has a zone ("%..."), which an allowlist cannot use'],
    ["::ffff:0.0.0.0/95", '"::ffff:0.0.0.0/95" is wider than the IPv4-mapped range ::ffff:0:0/96; write the IPv4 and IPv6 parts as separate entries'],
    ["example.com", '"example.com" is not an IPv4 address: it needs 4 numbers separated by dots'],
  ];
  test.each(BAD)("refuses %p: %s", (input, problem) => {
    expect(parseCidr(input)).toBeNull();
    expect(cidrProblem(input)).toBe(problem);
  });

  test("a good range has no problem", () => {
    for (const s of ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1", "::ffff:10.0.0.1", "0.0.0.0/0"]) expect(cidrProblem(s)).toBeNull();
  });
});

describe("compileIpAllowlist", () => {
  test("an empty list admits everything, even what does not parse", () => {
    const ok = allow([]);
    expect(ok("10.0.0.1")).toBe(true);
    expect(ok("not an ip")).toBe(true);
  });

  test("the first and last address of an IPv4 range are in, their neighbours out", () => {
    const ok = allow(["10.0.0.0/8"]);
    expect(ok("10.0.0.0")).toBe(true);
    expect(ok("10.255.255.255")).toBe(true);
    expect(ok("9.255.255.255")).toBe(false);
    expect(ok("11.0.0.0")).toBe(false);
  });

  test("a /32 is one address; a /31 two", () => {
    const one = allow(["192.168.1.7"]);
    expect(one("192.168.1.7")).toBe(true);
    expect(one("192.168.1.6")).toBe(false);
    expect(one("192.168.1.8")).toBe(false);
    const two = allow(["192.168.1.6/31"]);
    expect(["192.168.1.5", "192.168.1.6", "192.168.1.7", "192.168.1.8"].map(two)).toEqual([false, true, true, false]);
  });

  test("ranges at the top of the address space (sign bit set) work", () => {
    const ok = allow(["255.255.255.255/32", "128.0.0.0/1"]);
    expect(ok("255.255.255.255")).toBe(true);
    expect(ok("128.0.0.0")).toBe(true);
    expect(ok("127.255.255.255")).toBe(false);
    expect(allow(["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"])("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
  });

  test("/0 admits its whole family and nothing of the other", () => {
    const v4 = allow(["0.0.0.0/0"]);
    expect(v4("0.0.0.0")).toBe(true);
    expect(v4("255.255.255.255")).toBe(true);
    expect(v4("::1")).toBe(false);
    const v6 = allow(["::/0"]);
    expect(v6("::")).toBe(true);
    expect(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(v6("127.0.0.1")).toBe(false);
  });

  test("IPv6 boundaries: first and last of 2001:db8::/32, a /128, and prefixes inside a word", () => {
    const ok = allow(["2001:db8::/32"]);
    expect(ok("2001:db8::")).toBe(true);
    expect(ok("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(ok("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(false);
    expect(ok("2001:db9::")).toBe(false);
    const loop = allow(["::1"]);
    expect(loop("::1")).toBe(true);
    expect(loop("::2")).toBe(false);
    expect(loop("::")).toBe(false);
    const mid = allow(["2001:db8:0:0:8000::/65"]);
    expect(mid("2001:db8::8000:0:0:0")).toBe(true);
    expect(mid("2001:db8::ffff:ffff:ffff:ffff")).toBe(true);
    expect(mid("2001:db8::7fff:ffff:ffff:ffff")).toBe(false);
  });

  test("an IPv4-mapped client address matches the IPv4 range (dual-stack sockets report these)", () => {
    const ok = allow(["10.0.0.0/8"]);
    expect(ok("::ffff:10.0.0.1")).toBe(true);
    expect(ok("::ffff:a00:1")).toBe(true);
    expect(ok("::ffff:11.0.0.1")).toBe(false);
    expect(allow(["::ffff:10.0.0.0/104"])("10.1.2.3")).toBe(true);
  });

  test("v4 and v6 entries together; a client zone id is ignored", () => {
    const ok = allow(["127.0.0.1", "::1", "fe80::/10"]);
    expect(ok("127.0.0.1")).toBe(true);
    expect(ok("::1")).toBe(true);
    expect(ok("fe80::1%eth0")).toBe(true);
    expect(ok("febf:ffff::1")).toBe(true);
    expect(ok("fec0::1")).toBe(false);
  });

  test("a client address that does not parse is refused", () => {
    const ok = allow(["0.0.0.0/0", "::/0"]);
    for (const bad of ["", "localhost", "1.2.3.4:80", "1.2.3.4.", "1..2.3", "01.2.3.4", "1.2.3.256", "1.2.3.1000", "::ffff:1.2.3", ".1.2.3.4"]) {
      expect({ bad, ok: ok(bad) }).toEqual({ bad, ok: false });
    }
  });

  test("the fast path and the general parser agree (upper-case mapped prefix, zero octets)", () => {
    const ok = allow(["10.0.0.0/8", "0.0.0.0/32"]);
    expect(ok("::FFFF:10.0.0.1")).toBe(true);
    expect(ok("::ffff:0:10.0.0.1")).toBe(false);
    expect(ok("0.0.0.0")).toBe(true);
    expect(ok("10.0.0.0")).toBe(true);
  });

  test("an entry that does not parse admits nothing (fail closed), the others still work", () => {
    const ok = allow(["10.0.0.0/33", "192.168.0.0/16"]);
    expect(ok("10.0.0.1")).toBe(false);
    expect(ok("192.168.3.4")).toBe(true);
  });

  test("parseIp gives the family and words of a client address", () => {
    expect(parseIp("1.2.3.4")).toEqual({ family: 4, words: [0x01020304] });
    expect(parseIp("::ffff:1.2.3.4")).toEqual({ family: 4, words: [0x01020304] });
    expect(parseIp("::1")).toEqual({ family: 6, words: [0, 0, 0, 1] });
    expect(parseIp("nope")).toBeNull();
  });
});
