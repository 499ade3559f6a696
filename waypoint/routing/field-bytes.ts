/**
 * Configured text → the bytes of a field value. The engine holds header values as byte strings
 * (one character per byte: HTTP/1.1 heads are read and written as latin1, and Node's HTTP/2 does
 * the same), while a route or policy carries text. A value with characters beyond ASCII is
 * therefore taken as its UTF-8 bytes once, when the snapshot is compiled, so that `x-user: José`
 * goes on the wire as UTF-8 (as Envoy sends it) and an exact match compares with the bytes a
 * client sent, rather than being cut to latin1 (or refused, for a character beyond it).
 */

/** `text` as the byte string of its UTF-8 encoding (the same string when it is ASCII). */
export function fieldBytes(text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.from(text, 'utf8').toString('latin1');
  }
  return text;
}
