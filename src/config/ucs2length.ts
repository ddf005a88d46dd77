// String length in code points, as JSON Schema counts maxLength/minLength (a surrogate
// pair is one character). The generated config validator calls it; it is ajv's runtime
// helper of the same name, kept here so the validator needs nothing from ajv at run time.

export default function ucs2length(str: string): number {
  let length = 0;
  for (let pos = 0; pos < str.length; pos++) {
    length++;
    const c = str.charCodeAt(pos);
    // a high surrogate followed by a low one is one code point
    if (c >= 0xd800 && c <= 0xdbff && pos + 1 < str.length && (str.charCodeAt(pos + 1) & 0xfc00) === 0xdc00) pos++;
  }
  return length;
}
