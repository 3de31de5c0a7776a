import { randomBytes } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
const COUNTER_LIMIT = 2 ** 48;

let prefix = '';
let counter = COUNTER_LIMIT;

/**
 * A new request id: a UUID (RFC 9562 version 8, the custom layout) whose first 74 bits are random,
 * drawn when the process starts, and whose last 48 bits count this process's ids. Unique within the
 * process, and across processes as likely as random ids are; made with a counter and six table
 * lookups, where a random UUID per request (hex-formatting 16 fresh bytes) showed in a profile of the
 * channel path.
 */
export function newRequestId(): string {
  if (++counter >= COUNTER_LIMIT) {
    const random = randomBytes(10);
    random[6] = (random[6]! & 0x0f) | 0x80; // version 8
    random[8] = (random[8]! & 0x3f) | 0x80; // variant 10
    const hex = random.toString('hex');
    prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-`;
    counter = 0;
  }
  const n = counter;
  return (
    prefix +
    HEX[Math.floor(n / 2 ** 40)]! +
    HEX[Math.floor(n / 2 ** 32) & 255]! +
    HEX[(n >>> 24) & 255]! +
    HEX[(n >>> 16) & 255]! +
    HEX[(n >>> 8) & 255]! +
    HEX[n & 255]!
  );
}
