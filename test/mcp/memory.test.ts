import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inProcess, lightUpstream, SERVERS } from './helpers.js';

describe('memory server through the bridge', () => {
  it('creates, relates and reads back entities, with a receipt per call', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'oacp-memory-')), 'memory.jsonl');
    const harness = await inProcess(
      lightUpstream('memory', [SERVERS.memory], { env: { MEMORY_FILE_PATH: file } }),
      { via: 'http' },
    );
    try {
      await harness.client.callTool({
        name: 'create_entities',
        arguments: {
          entities: [
            { name: 'Ada', entityType: 'person', observations: ['wrote the first program'] },
            { name: 'Analytical Engine', entityType: 'machine', observations: [] },
          ],
        },
      });
      await harness.client.callTool({
        name: 'create_relations',
        arguments: { relations: [{ from: 'Ada', to: 'Analytical Engine', relationType: 'programmed' }] },
      });
      const graph = await harness.client.callTool({ name: 'read_graph', arguments: {} });
      const content = JSON.stringify(graph.structuredContent ?? graph.content);
      expect(content).toContain('Ada');
      expect(content).toContain('programmed');
      const found = await harness.client.callTool({ name: 'search_nodes', arguments: { query: 'program' } });
      expect(JSON.stringify(found.content)).toContain('Ada');
      expect(existsSync(file)).toBe(true);
      expect(readFileSync(file, 'utf8')).toContain('Analytical Engine');
      expect(harness.receipts.records).toHaveLength(4);
      for (const ref of harness.receipts.refs) {
        expect((await harness.receipts.verify(ref.index)).ok).toBe(true);
      }
    } finally {
      await harness.close();
    }
  });
});
