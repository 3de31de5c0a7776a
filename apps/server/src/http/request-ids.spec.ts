import { describe, expect, it } from 'vitest';
import { newRequestId } from './request-ids';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newRequestId', () => {
  it('makes version 8 UUIDs that differ from each other, the count carrying across bytes', () => {
    const ids = Array.from({ length: 70_000 }, () => newRequestId());
    for (const id of [ids[0]!, ids[255]!, ids[256]!, ids[65_535]!, ids[65_536]!, ids.at(-1)!]) expect(id).toMatch(UUID_V8);
    expect(new Set(ids).size).toBe(ids.length);
    // One process's ids share their random part and count up in the last group.
    const last = (id: string): number => Number.parseInt(id.slice(24), 16);
    expect(ids.every((id) => id.slice(0, 24) === ids[0]!.slice(0, 24))).toBe(true);
    expect(last(ids.at(-1)!) - last(ids[0]!)).toBe(ids.length - 1);
  });
});
