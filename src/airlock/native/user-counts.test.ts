import { describe, expect, it } from 'vitest';
import { SANDBOX_SHARE, sandboxUserCounts } from './user-counts.js';

describe('sandboxUserCounts', () => {
  it("gives a sandbox an eighth of each count the host's sysctls allow a uid", () => {
    const host: Record<string, string> = {
      '/proc/sys/user/max_inotify_instances': '128\n',
      '/proc/sys/user/max_inotify_watches': '192540\n',
      '/proc/sys/user/max_fanotify_groups': '128\n',
      '/proc/sys/user/max_fanotify_marks': '205042\n',
    };
    expect(SANDBOX_SHARE).toBe(8);
    expect(sandboxUserCounts((path) => host[path] ?? '')).toEqual({
      inotifyInstances: 16,
      inotifyWatches: 24067,
      fanotifyGroups: 16,
      fanotifyMarks: 25630,
    });
  });

  it("keeps a cap where the host's count is unreadable or tiny: the kernel default's share, at least one", () => {
    const counts = sandboxUserCounts((path) => {
      if (path.endsWith('max_inotify_instances')) return '3\n';
      if (path.endsWith('max_inotify_watches')) return 'garbage';
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    });
    expect(counts).toEqual({
      inotifyInstances: 1,
      inotifyWatches: 1024,
      fanotifyGroups: 16,
      fanotifyMarks: 1024,
    });
  });
});
