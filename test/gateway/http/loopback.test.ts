import { describe, expect, it } from 'vitest';
import { hostGuardFor, hostOfHeader, isLoopbackAddress } from '../../../src/core/loopback.js';

describe('what counts as loopback (core/loopback.ts)', () => {
  it('counts localhost, 127.0.0.0/8 and ::1 in any spelling', () => {
    for (const host of [
      '127.0.0.1',
      '127.0.0.2',
      '127.255.255.254',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      'localhost',
      'LOCALHOST',
    ]) {
      expect(isLoopbackAddress(host), host).toBe(true);
    }
  });

  it('counts nothing else: not other addresses, not names that resolve locally, not URL tricks', () => {
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '128.0.0.1',
      '::2',
      '::ffff:10.0.0.1',
      'ip6-localhost',
      'localhost.',
      'localhost.evil.example',
      'evil.example',
      'a.localhost',
      '127.0.0.1.evil.example',
      'evil.example@127.0.0.1',
      '127.0.0.1/evil',
      'fe80::1%lo',
      '',
    ]) {
      expect(isLoopbackAddress(host), host).toBe(false);
    }
  });

  it('reads the host of a Host header, canonical, or nothing when it is not one', () => {
    expect(hostOfHeader('127.0.0.1:8080')).toBe('127.0.0.1');
    expect(hostOfHeader('[::1]:8080')).toBe('[::1]');
    expect(hostOfHeader('[0:0::1]')).toBe('[::1]');
    expect(hostOfHeader('LocalHost')).toBe('localhost');
    expect(hostOfHeader('evil.example')).toBe('evil.example');
    for (const header of [
      undefined,
      '',
      ':80',
      'a:b:c',
      'user@127.0.0.1',
      '127.0.0.1/x',
      '127.0.0.1:99999x',
    ]) {
      expect(hostOfHeader(header), String(header)).toBeUndefined();
    }
  });

  it('on a loopback listener accepts only the names of that listener', () => {
    const guard = hostGuardFor('127.0.0.2');
    for (const header of ['127.0.0.2:9', 'localhost', 'localhost:1', '127.0.0.1', '[::1]:8080']) {
      expect(guard(header).effect, header).toBe('allow');
    }
    for (const header of [
      undefined,
      'evil.example',
      'evil.example:9',
      '127.0.0.3',
      'localhost.evil.example',
    ]) {
      const decision = guard(header);
      expect(decision.effect, String(header)).toBe('deny');
      expect(decision.reason).toContain('DNS-rebinding');
    }
    for (const origin of ['http://127.0.0.2:9', 'http://localhost:3000', 'https://[::1]', 'http://127.9.9.9'])
      expect(guard('localhost', origin).effect, origin).toBe('allow');
    for (const origin of [
      'https://evil.example',
      'null',
      'file://',
      'http://localhost.evil.example',
      'chrome-extension://abc',
      'http://user@localhost',
      'http://10.0.0.1',
    ]) {
      const decision = guard('localhost', origin);
      expect(decision.effect, origin).toBe('deny');
      expect(decision.reason).toContain('Origin header');
    }
    expect(hostGuardFor('0.0.0.0')('evil.example', 'https://evil.example').effect).toBe('allow');
    expect(hostGuardFor('::1')('[::1]:1').effect).toBe('allow');
    expect(hostGuardFor('::1')('evil.example').effect).toBe('deny');
  });

  it('attack: a rebinding Host right after an accepted one is refused (the guard keeps only its last answer, per header pair)', () => {
    const guard = hostGuardFor('127.0.0.1');
    expect(guard('127.0.0.1:8080').effect).toBe('allow');
    expect(guard('127.0.0.1:8080').effect).toBe('allow');
    expect(guard('evil.example:8080').effect).toBe('deny');
    expect(guard('127.0.0.1:8080', 'https://evil.example').effect).toBe('deny');
    expect(guard('127.0.0.1:8080').effect).toBe('allow');
    expect(guard(undefined).effect).toBe('deny');
    // An answer handed out cannot be edited into the next caller's allow.
    const refused = guard('evil.example');
    expect(Object.isFrozen(refused)).toBe(true);
    expect(guard('evil.example').effect).toBe('deny');
  });

  it('leaves a listener on another address unguarded (it needs TLS, and the network reaches it anyway)', () => {
    expect(hostGuardFor('0.0.0.0')('evil.example').effect).toBe('allow');
    expect(hostGuardFor('10.1.2.3')(undefined).effect).toBe('allow');
  });
});
