import { OacpError } from '../core/errors.js';
import type { IdentityErrorCode } from './errors.js';

/** The Bitcoin base58 alphabet that multibase calls `base58btc` (prefix `z`). */
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
/** Each ASCII character's value in the alphabet by its code, -1 for one outside it. */
const VALUES = Int8Array.from({ length: 128 }, (_, code) => ALPHABET.indexOf(String.fromCharCode(code)));
/** log(58) / log(256), rounded up: the bytes one base58 digit can add at most. */
const BYTES_PER_DIGIT = 0.733;
/** '1', the digit 0: leading ones are leading zero bytes. */
const ONE = 0x31;

/**
 * Big-number base conversion, written out because did:key needs only this one
 * codec and a dependency for it would be more code to trust than the codec.
 * Leading zero bytes map one-to-one to leading '1's, as the format requires.
 */
export function base58btcEncode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  const digits: number[] = [];
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i] ?? 0;
    for (let j = 0; j < digits.length; j++) {
      carry += (digits[j] ?? 0) << 8;
      digits[j] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  let out = '1'.repeat(zeros);
  for (let i = digits.length - 1; i >= 0; i--) out += ALPHABET[digits[i] ?? 0];
  return out;
}

/**
 * Decodes into one typed array sized for the text (little-endian while it is built), by character
 * codes: an agent's did:key is decoded twice for every tool-call receipt, and a growing number
 * array with a map lookup per character was most of what checking it allocated.
 */
export function base58btcDecode(text: string): Uint8Array {
  let zeros = 0;
  while (zeros < text.length && text.charCodeAt(zeros) === ONE) zeros++;
  const bytes = new Uint8Array(Math.ceil((text.length - zeros) * BYTES_PER_DIGIT) + 1);
  let length = 0;
  for (let i = zeros; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < VALUES.length ? (VALUES[code] ?? -1) : -1;
    if (value < 0) {
      throw new OacpError<IdentityErrorCode>(
        'IDENTITY_BASE58_INVALID',
        `cannot decode base58btc: character ${JSON.stringify(text[i] ?? '')} at position ${i} is not in the alphabet`,
      );
    }
    let carry = value;
    for (let j = 0; j < length; j++) {
      carry += (bytes[j] ?? 0) * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes[length++] = carry & 0xff;
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + length);
  for (let i = 0; i < length; i++) out[zeros + i] = bytes[length - 1 - i] ?? 0;
  return out;
}
