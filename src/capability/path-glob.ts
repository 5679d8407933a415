/**
 * File grants are absolute path globs. `*` matches within one path segment
 * (any characters except `/`, dotfiles included); `**` as a whole segment
 * matches zero or more segments. So `/data/*` grants `/data/a` but neither
 * `/data` nor `/data/a/b`, while `/data/**` grants `/data` and everything
 * under it. Probes are normalized first (`.`/`..` resolved, `//` collapsed),
 * so `/data/../etc/passwd` is judged as `/etc/passwd`. Symlinks are not
 * resolved here: a tier must pass the real path it is about to open.
 */
type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'star'; readonly text: string; readonly regex: RegExp }
  | { readonly kind: 'globstar' };

export interface PathGlob {
  readonly text: string;
  readonly segments: readonly Segment[];
}

/** Absolute, normalized form of `path`, or undefined if it is relative or holds a NUL byte. */
export function normalizePath(path: string): string | undefined {
  if (!path.startsWith('/') || path.includes('\0')) return undefined;
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/**
 * A grant path arrives as text (argv, YAML, JSON), and a byte that is not
 * UTF-8 has already become U+FFFD by then: granting the text would grant a
 * directory whose name really holds U+FFFD, a look-alike of the one meant.
 * Node cannot recover the bytes, so such a path is refused, never granted.
 */
export function notUtf8PathProblem(text: string): string | undefined {
  return text.includes('\uFFFD')
    ? 'holds a byte that is not UTF-8 (read as U+FFFD), so it may name another path than the one meant: rename it, or grant a parent whose path is UTF-8'
    : undefined;
}

/** Why `text` is not a path glob we accept, or undefined if it is fine. */
export function pathGlobProblem(text: string): string | undefined {
  if (!text.startsWith('/')) return 'must be an absolute path glob (start with /)';
  if (text.includes('\0')) return 'must not contain a NUL byte';
  const notUtf8 = notUtf8PathProblem(text);
  if (notUtf8 !== undefined) return notUtf8;
  if (/[[\]{}?\\]/.test(text)) return 'only * and ** are supported as wildcards';
  const parts = text.split('/');
  if (parts.includes('..')) return 'must not contain .. segments';
  if (parts.some((part) => part.includes('**') && part !== '**')) return '** must be a whole path segment';
  return undefined;
}

export function parsePathGlob(text: string): PathGlob | undefined {
  if (pathGlobProblem(text) !== undefined) return undefined;
  const segments = text
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .map((part): Segment => {
      if (part === '**') return { kind: 'globstar' };
      if (!part.includes('*')) return { kind: 'literal', text: part };
      const body = part
        .split('*')
        .map((piece) => piece.replace(/[.+^$()|]/g, '\\$&'))
        .join('[^/]*');
      return { kind: 'star', text: part, regex: new RegExp(`^${body}$`) };
    });
  return { text, segments };
}

function segmentMatches(segment: Segment, name: string): boolean {
  if (segment.kind === 'literal') return segment.text === name;
  if (segment.kind === 'star') return segment.regex.test(name);
  return true;
}

/** `path` must be normalized (see `normalizePath`). */
export function globMatches(glob: PathGlob, path: string): boolean {
  const names = path.split('/').filter((part) => part !== '');
  const segments = glob.segments;
  const memo = new Map<number, boolean>();
  const match = (i: number, j: number): boolean => {
    const key = i * (names.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    const segment = segments[i];
    if (segment === undefined) result = j === names.length;
    else if (segment.kind === 'globstar') result = match(i + 1, j) || (j < names.length && match(i, j + 1));
    else {
      const name = names[j];
      result = name !== undefined && segmentMatches(segment, name) && match(i + 1, j + 1);
    }
    memo.set(key, result);
    return result;
  };
  return match(0, 0);
}

/**
 * Whether every path `inner` matches is also matched by `outer`. Conservative:
 * a false "no" only costs a child a permission; a false "yes" would leak one.
 */
export function globCovers(outer: PathGlob, inner: PathGlob): boolean {
  const a = outer.segments;
  const b = inner.segments;
  const memo = new Map<number, boolean>();
  const covers = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    const left = a[i];
    const right = b[j];
    if (left === undefined) result = right === undefined;
    else if (left.kind === 'globstar') result = covers(i + 1, j) || (right !== undefined && covers(i, j + 1));
    else if (right === undefined || right.kind === 'globstar') result = false;
    else result = segmentCovers(left, right) && covers(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return covers(0, 0);
}

function segmentCovers(outer: Segment, inner: Segment): boolean {
  if (inner.kind === 'literal') return segmentMatches(outer, inner.text);
  if (outer.kind === 'star' && inner.kind === 'star') return outer.text === '*' || outer.text === inner.text;
  return false;
}
