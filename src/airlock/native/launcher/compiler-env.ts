/**
 * The whole environment the compiler runs with. OACP's own may carry LD_PRELOAD,
 * CPATH, COMPILER_PATH, GCC_EXEC_PREFIX, a CC wrapper's settings and the like,
 * any of which would change (or take over) the program every sandbox starts
 * through; the build sees only fixed system directories and the C locale.
 */
export const COMPILER_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
};
