import { describe, expect, it } from 'vitest';
import { answerShape, isErrorBody } from './answer-shape.js';

const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

/**
 * The judgement of a 2xx body is made by plain reads now (it was two zod object schemas, which
 * copied the whole answer on every call and every streamed event): each row is what the schemas
 * said, so a provider's error still never passes as an answer.
 */
describe('isErrorBody: what the schemas it replaced said, row by row', () => {
  const rows: ReadonlyArray<readonly [string, unknown, boolean]> = [
    ['an empty object', {}, false],
    ['error: null', { error: null }, false],
    ['error: undefined', { error: undefined }, false],
    ['error: 0', { error: 0 }, true],
    ['error: false', { error: false }, true],
    ['error: ""', { error: '' }, true],
    ['error: {}', { error: {} }, true],
    ['type: "error"', { type: 'error' }, true],
    ['type: "Error"', { type: 'Error' }, false],
    ['type: "error" beside error: null', { type: 'error', error: null }, true],
    ['an error beside choices', { choices: [{ message: { content: 'hi' } }], error: { message: 'x' } }, true],
    ['an array', [], false],
    ['an array carrying error', Object.assign([], { error: 1 }), false],
    ['null', null, false],
    ['a string', 'error', false],
    ['a number', 1, false],
    ['an object without a prototype', Object.create(null), false],
    ['a member named __proto__ holding error', JSON.parse('{"__proto__":{"error":1}}'), false],
    ['an inherited error', Object.create({ error: 1 }), true],
    ['an inherited type: "error"', Object.create({ type: 'error' }), true],
  ];
  for (const [name, body, expected] of rows) {
    it(`${name}: ${expected ? 'an error' : 'not an error'}`, () => {
      expect(isErrorBody(body)).toBe(expected);
    });
  }
});

describe('answerShape: an answer only when it carries what its endpoint answers with', () => {
  it('a chat completion with choices is an answer, its text and value handed on', () => {
    const answer = { choices: [{ message: { content: 'hi' } }] };
    expect(answerShape('chat.completions', bytes(answer))).toEqual({
      kind: 'answer',
      text: JSON.stringify(answer),
      value: answer,
    });
  });

  it('a provider error in a 200 beside choices is an error, its words kept for the reason', () => {
    const shape = answerShape('chat.completions', bytes({ choices: [], error: { message: 'quota' } }));
    expect(shape).toMatchObject({ kind: 'error', reason: 'an error body', message: 'quota' });
  });

  it('choices that are not a list, or a list that is not an object, are not an answer', () => {
    expect(answerShape('chat.completions', bytes({ choices: {} }))).toMatchObject({
      kind: 'error',
      reason: 'a body that is not a chat.completions answer',
    });
    expect(answerShape('chat.completions', bytes([{ choices: [] }]))).toMatchObject({
      kind: 'error',
      reason: 'a body that is not a chat.completions answer',
    });
    expect(answerShape('chat.completions', bytes('choices'))).toMatchObject({ kind: 'error' });
  });

  it('embeddings need a data list; messages need type "message" and a content list', () => {
    expect(answerShape('embeddings', bytes({ data: [] })).kind).toBe('answer');
    expect(answerShape('embeddings', bytes({ data: 'x' })).kind).toBe('error');
    expect(answerShape('messages', bytes({ type: 'message', content: [] })).kind).toBe('answer');
    expect(answerShape('messages', bytes({ type: 'Message', content: [] })).kind).toBe('error');
    expect(answerShape('messages', bytes({ type: 'message', content: 'hi' })).kind).toBe('error');
    // A chat completion sent where a message was asked for is not passed on as one.
    expect(answerShape('messages', bytes({ choices: [] })).kind).toBe('error');
  });

  it('a body that is not JSON is unreadable', () => {
    expect(answerShape('chat.completions', Buffer.from('{"choices": ['))).toEqual({ kind: 'unreadable' });
  });
});
