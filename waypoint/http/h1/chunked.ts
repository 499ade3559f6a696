/**
 * The chunked transfer coding (RFC 9112 §7.1) for a raw-socket HTTP/1.1 path: a streaming,
 * strict decoder (a size with at most 13 hex digits, CRLF where the grammar puts it, bounded
 * chunk extensions and trailers, trailer field lines held to the grammar of header fields) and
 * the encoder's framing. Pure: bytes in, data and trailers out.
 */

import { isTokenByte } from './fields.ts';

/** A chunked body that cannot be decoded; the connection must be answered 400 and closed. */
export class ChunkedError extends Error {
  override readonly name = 'ChunkedError';
}

/** Limits of the decoder. */
export interface ChunkedLimits {
  /** Bytes of one chunk's extensions (`;name=value…`). */
  readonly maxExtensionBytes: number;
  /** Bytes of the trailer section. */
  readonly maxTrailerBytes: number;
}

/** What one {@link ChunkedDecoder.push} produced. */
export interface ChunkedOutput {
  /** Body bytes, as views of the input. */
  readonly data: Buffer[];
  /** Input bytes used; the rest (when `done`) belongs to the next message. */
  readonly consumed: number;
  /** True once the last chunk and the trailers were read. */
  readonly done: boolean;
}

const enum State {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  TrailerLf,
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
const MAX_SIZE_DIGITS = 13; // 16^13 = 2^52: below Number.MAX_SAFE_INTEGER

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** Decodes one chunked body, fed in pieces as they arrive. */
export class ChunkedDecoder {
  private state = State.Size;
  private size = 0;
  private digits = 0;
  private extensionBytes = 0;
  private remaining = 0;
  private trailerBytes = 0;
  /** Bytes of the current trailer line (0: the line is empty so far). */
  private trailerLine = 0;
  /** True once the current trailer line's colon was read (its value follows). */
  private trailerValue = false;
  private readonly trailerParts: Buffer[] = [];

  constructor(private readonly limits: ChunkedLimits) {}

  /** True once the whole body was read. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** The trailer section as received (field lines with CRLF), empty when there was none. */
  trailers(): Buffer {
    return Buffer.concat(this.trailerParts);
  }

  /** Feeds `buf`; throws a {@link ChunkedError} on a malformed body. */
  push(buf: Buffer): ChunkedOutput {
    const data: Buffer[] = [];
    let i = 0;
    while (i < buf.length && this.state !== State.Done) {
      const c = buf[i] ?? 0;
      switch (this.state) {
        case State.Size: {
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) throw new ChunkedError('chunk size too large');
            this.size = this.size * 16 + v;
            i++;
          } else if (this.digits === 0) {
            throw new ChunkedError('chunk size is not hexadecimal');
          } else if (c === 0x3b) {
            this.state = State.Extension;
            i++;
          } else if (c === CR) {
            this.state = State.SizeLf;
            i++;
          } else {
            throw new ChunkedError('invalid character after the chunk size');
          }
          break;
        }
        case State.Extension: {
          if (c === CR) this.state = State.SizeLf;
          else if ((c < 0x20 && c !== 0x09) || c === 0x7f)
            throw new ChunkedError('control character in a chunk extension');
          else if (++this.extensionBytes > this.limits.maxExtensionBytes)
            throw new ChunkedError('chunk extensions too long');
          i++;
          break;
        }
        case State.SizeLf: {
          if (c !== LF) throw new ChunkedError('chunk size line without CRLF');
          i++;
          this.remaining = this.size;
          this.state = this.size === 0 ? State.Trailer : State.Data;
          this.size = 0;
          this.digits = 0;
          this.extensionBytes = 0;
          break;
        }
        case State.Data: {
          const n = Math.min(this.remaining, buf.length - i);
          data.push(buf.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = State.DataCr;
          break;
        }
        case State.DataCr: {
          if (c !== CR) throw new ChunkedError('chunk data longer than its size');
          this.state = State.DataLf;
          i++;
          break;
        }
        case State.DataLf: {
          if (c !== LF) throw new ChunkedError('chunk data not followed by CRLF');
          this.state = State.Size;
          i++;
          break;
        }
        case State.Trailer: {
          // Trailer field lines until an empty line; kept whole, parsed by the caller if needed.
          if (++this.trailerBytes > this.limits.maxTrailerBytes)
            throw new ChunkedError('trailer section too large');
          if (c === CR) {
            if (this.trailerLine > 0 && !this.trailerValue)
              throw new ChunkedError('trailer field without a colon');
            this.state = State.TrailerLf;
          } else if (c === LF) throw new ChunkedError('bare LF in the trailer section');
          else {
            this.trailerField(c);
            this.trailerLine++;
          }
          this.trailerParts.push(buf.subarray(i, i + 1));
          i++;
          break;
        }
        case State.TrailerLf: {
          if (c !== LF) throw new ChunkedError('trailer line without CRLF');
          i++;
          if (this.trailerLine === 0) {
            // The empty line that ends the body: not part of the trailers.
            this.trailerParts.pop();
            this.state = State.Done;
          } else {
            this.trailerParts.push(buf.subarray(i - 1, i));
            this.trailerLine = 0;
            this.trailerValue = false;
            this.state = State.Trailer;
          }
          break;
        }
      }
    }
    return { data, consumed: i, done: this.state === State.Done };
  }

  /**
   * Checks byte `c` of a trailer field line (not CR or LF) as the head parser checks header
   * fields (RFC 9112 §5): a token, a colon, then a value without control characters but HTAB.
   */
  private trailerField(c: number): void {
    if (this.trailerValue) {
      if ((c < 0x20 && c !== 0x09) || c === 0x7f)
        throw new ChunkedError('control character in a trailer field value');
    } else if (c === 0x3a) {
      if (this.trailerLine === 0) throw new ChunkedError('trailer field without a name');
      this.trailerValue = true;
    } else if (this.trailerLine === 0 && (c === 0x20 || c === 0x09)) {
      throw new ChunkedError('obsolete line folding in the trailer section');
    } else if (!isTokenByte(c)) {
      throw new ChunkedError('invalid trailer field name');
    }
  }
}

/** The framing before one chunk of `length` bytes (`length` > 0). */
export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}

/** The end of a chunked body, with optional trailer field lines (`name: value\r\n` each). */
export function lastChunk(trailerLines = ''): string {
  return `0\r\n${trailerLines}\r\n`;
}
