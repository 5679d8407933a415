/**
 * Bytes of a sandbox tmpfs (/tmp, /dev/shm) per file it may hold. Each file, empty or not, is
 * kernel memory (an inode and a dentry, about 1 KiB) that the tmpfs size does not count: 400k empty
 * files in a 64 MiB /tmp took ~330 MB the host could not reclaim, with memory opted out. One file per
 * 4 KiB (a page, the least a non-empty file takes) lets a /tmp full of small files reach its size,
 * while the files' own kernel memory stays about a fifth of it. Real trees need far fewer: an npm
 * cache holds one file or directory per 58 KiB, a node_modules tree one per 19 KiB (docs/hardened-tier.md).
 */
export const TMPFS_BYTES_PER_INODE = 4096;

/** Files even a tiny tmpfs may hold: a few caches' index and lock files. */
const MIN_INODES = 1024;

/** The file (inode) cap of a sandbox tmpfs of `mb` MiB. */
export function tmpfsInodes(mb: number): number {
  return Math.max(MIN_INODES, Math.floor((mb * 1024 * 1024) / TMPFS_BYTES_PER_INODE));
}
