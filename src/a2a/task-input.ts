import type { Message } from '@a2a-js/sdk';
import type { A2aTaskInput } from './extension.js';

/** The input an agent's program is given for a message; the caller derives the same to check inputsDigest. */
export function taskInput(message: Message, from: string | null): A2aTaskInput {
  const texts: string[] = [];
  const data: unknown[] = [];
  for (const part of message.parts) {
    if (part.content?.$case === 'text') texts.push(part.content.value);
    else if (part.content?.$case === 'data') data.push(part.content.value ?? null);
  }
  return { messageId: message.messageId, text: texts.join('\n'), data, from };
}
