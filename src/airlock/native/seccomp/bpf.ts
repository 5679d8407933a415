/**
 * Classic BPF as the kernel's seccomp filter reads it: `struct sock_filter`
 * records of {u16 code, u8 jt, u8 jf, u32 k} in host byte order. Only the few
 * opcodes a syscall filter needs are named.
 */
export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

export const BPF_LD_W_ABS = 0x20;
export const BPF_ALU_AND_K = 0x54;
export const BPF_JMP_JEQ_K = 0x15;
export const BPF_JMP_JGE_K = 0x35;
export const BPF_JMP_JSET_K = 0x45;
export const BPF_RET_K = 0x06;

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;

/** Offsets into `struct seccomp_data`. */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
/** Low 32 bits of argument `index` on a little-endian machine. */
export function argLow(index: number): number {
  return 16 + 8 * index;
}

export const load = (offset: number): BpfInstruction => ({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: offset });
export const and = (mask: number): BpfInstruction => ({ code: BPF_ALU_AND_K, jt: 0, jf: 0, k: mask });
export const ret = (value: number): BpfInstruction => ({ code: BPF_RET_K, jt: 0, jf: 0, k: value >>> 0 });
export const jeq = (value: number, jt: number, jf: number): BpfInstruction => ({
  code: BPF_JMP_JEQ_K,
  jt,
  jf,
  k: value >>> 0,
});
export const jge = (value: number, jt: number, jf: number): BpfInstruction => ({
  code: BPF_JMP_JGE_K,
  jt,
  jf,
  k: value >>> 0,
});
export const jset = (mask: number, jt: number, jf: number): BpfInstruction => ({
  code: BPF_JMP_JSET_K,
  jt,
  jf,
  k: mask >>> 0,
});

/** The bytes `bwrap --seccomp FD` expects: the raw instruction array, little-endian. */
export function encodeProgram(program: readonly BpfInstruction[]): Buffer {
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((instruction, index) => {
    if (instruction.jt > 255 || instruction.jf > 255) {
      throw new RangeError(`BPF jump at instruction ${index} is longer than 255`);
    }
    bytes.writeUInt16LE(instruction.code, index * 8);
    bytes.writeUInt8(instruction.jt, index * 8 + 2);
    bytes.writeUInt8(instruction.jf, index * 8 + 3);
    bytes.writeUInt32LE(instruction.k >>> 0, index * 8 + 4);
  });
  return bytes;
}
