import { allow, type Decision, deny } from '../core/decision.js';
import { globMatches, normalizePath, type PathGlob, parsePathGlob } from './path-glob.js';

export type FileAccess = 'read' | 'write';

/** `file_read` / `file_write` compiled. Writing does not imply reading: list a path in both if needed. */
export class FilePolicy {
  private constructor(
    private readonly read: readonly PathGlob[],
    private readonly write: readonly PathGlob[],
  ) {}

  static from(grant: {
    readonly file_read: readonly string[];
    readonly file_write: readonly string[];
  }): FilePolicy {
    const compile = (globs: readonly string[]) =>
      globs.flatMap((text) => {
        const glob = parsePathGlob(text);
        return glob === undefined ? [] : [glob];
      });
    return new FilePolicy(compile(grant.file_read), compile(grant.file_write));
  }

  decide(path: string, access: FileAccess): Decision {
    const policyId = access === 'read' ? 'capability.file_read' : 'capability.file_write';
    const normal = normalizePath(path);
    if (normal === undefined) return deny(`"${path}" is not an absolute path`, policyId);
    const globs = access === 'read' ? this.read : this.write;
    const hit = globs.find((glob) => globMatches(glob, normal));
    return hit === undefined
      ? deny(`${normal} is not granted for ${access} (file_${access})`, policyId)
      : allow(`${normal} matches file_${access} glob ${hit.text}`, policyId);
  }
}
