import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

/**
 * Every account's home directory (from /etc/passwd) and the invoker's by its passwd entry: `$HOME`
 * may name somewhere else (a service, `sudo`, CI), and neither an implicit grant nor the home guard
 * may go by `$HOME` alone (`/home/alice/bin/node` must never widen to `/home/alice`, and a grant of
 * `/home/alice` must never show alice's OACP home).
 */
export function accountHomes(): string[] {
  const homes: string[] = [];
  try {
    homes.push(userInfo().homedir);
  } catch {
    // No passwd entry for this uid: $HOME and the table below still count.
  }
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const home = line.split(':')[5];
      if (home?.startsWith('/')) homes.push(home);
    }
  } catch {
    // Unreadable: the callers' fixed lists and $HOME still count.
  }
  return homes;
}
