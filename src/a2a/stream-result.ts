import type { Artifact, Message, Task } from '@a2a-js/sdk';
import { a2aError } from './errors.js';

/** Folds a stream's events into the final task, as the server's task store would. */
export async function collectStream(
  events: AsyncGenerator<{ payload?: { $case: string; value: unknown } | undefined }>,
): Promise<Message | Task> {
  let task: Task | undefined;
  const artifacts = new Map<string, Artifact>();
  for await (const event of events) {
    const payload = event.payload;
    if (payload === undefined) continue;
    if (payload.$case === 'message') return payload.value as Message;
    if (payload.$case === 'task') task = payload.value as Task;
    else if (payload.$case === 'statusUpdate' && task !== undefined) {
      task = { ...task, status: (payload.value as { status: Task['status'] }).status };
    } else if (payload.$case === 'artifactUpdate') {
      const artifact = (payload.value as { artifact?: Artifact }).artifact;
      if (artifact !== undefined) artifacts.set(artifact.artifactId, artifact);
    }
  }
  if (task === undefined) throw a2aError('A2A_RESPONSE_INVALID', 'the stream ended without a task');
  return { ...task, artifacts: [...task.artifacts, ...artifacts.values()] };
}
