import type { BpfInstruction } from './bpf.js';

/** A reference interpreter for the opcodes the filter uses, run over seccomp_data. */
export function run(
  program: readonly BpfInstruction[],
  arch: number,
  nr: number,
  args: number[] = [],
): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  for (const [index, value] of args.entries()) data.writeUInt32LE(value >>> 0, 16 + 8 * index);
  let acc = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const op = program[pc];
    if (op === undefined) break;
    switch (op.code) {
      case 0x20:
        acc = data.readUInt32LE(op.k);
        break;
      case 0x54:
        acc = (acc & op.k) >>> 0;
        break;
      case 0x15:
        pc += acc === op.k ? op.jt : op.jf;
        break;
      case 0x35:
        pc += acc >= op.k ? op.jt : op.jf;
        break;
      case 0x45:
        pc += (acc & op.k) !== 0 ? op.jt : op.jf;
        break;
      case 0x06:
        return op.k;
      default:
        throw new Error(`unexpected opcode ${op.code}`);
    }
  }
  throw new Error('program fell off the end');
}
