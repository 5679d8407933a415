import { describe, expect, it } from 'vitest';
import { allPages } from './pages.js';

describe('allPages', () => {
  it('attack: a server page of 400,000 tools is collected, not a stack overflow (spread into push)', async () => {
    const tools = Array.from({ length: 400_000 }, (_, i) => ({ name: `t${i}` }));
    const pages = [{ tools, nextCursor: 'more' }, { tools: [{ name: 'last' }] }];
    let asked = 0;
    const items = await allPages(async () => pages[asked++], 'tools');
    expect(items.length).toBe(400_001);
    expect(items.at(-1)).toEqual({ name: 'last' });
  });
});
