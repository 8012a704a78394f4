import { describe, expect, it } from 'vitest';
import { isBlockedAddress, isBlockedHost } from './addresses.js';

describe('isBlockedAddress', () => {
  it.each([
    '169.254.169.254',
    '100.100.100.200',
    'fe80::1',
    'fd00:ec2::254',
    'fd00:0ec2:0:0:0:0:0:0254',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::169.254.1.1',
    '::ffff:100.100.100.200',
    // NAT64, well-known and local-use prefixes.
    '64:ff9b::169.254.169.254',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b::6464:64c8',
    '64:ff9b:1::a9fe:a9fe',
    // 6to4.
    '2002:a9fe:a9fe::',
    '2002:a9fe:0101::1',
    '[2002:6464:64c8::1]',
    // Teredo: server address in bits 32–63, client address inverted in the last 32 bits.
    '2001:0:a9fe:a9fe::1',
    '2001:0:0a00:1::5601:5601',
  ])('refuses %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each([
    '127.0.0.1',
    '10.0.0.5',
    '192.168.1.9',
    '::1',
    'fec0::1',
    '64:ff9b::a00:1',
    '64:ff9b::10.0.0.1',
    '2002:c0a8:101::1',
    '2001:0:0a00:1::f5ff:fefe',
    '2001:db8::a9fe:a9fe',
    '2003:a9fe:a9fe::',
  ])('allows %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('refuses the same forms as URL hosts', () => {
    expect(isBlockedHost('[64:ff9b::a9fe:a9fe]')).toBe(true);
    expect(isBlockedHost('[2002:a9fe:a9fe::]')).toBe(true);
    expect(isBlockedHost('metadata.google.internal.')).toBe(true);
  });
});
