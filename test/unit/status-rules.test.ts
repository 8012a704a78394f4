import { describe, expect, it } from 'vitest';
import { DEVICE_STATUSES, type DeviceStatus } from '../../electron/core/api/schemas.js';
import { deriveStatus, eventFor, isAttachedOnly } from '../../electron/core/devices/status-rules.js';
import { looksLikeIosUdid, preferredUdid, udidKey } from '../../electron/core/devices/udid.js';

const ready = { state: 'ready' } as const;
const unusable = { state: 'unusable' } as const;
const attached = { state: 'attached' } as const;

describe('eventFor (Kobiton rules)', () => {
  // Written out in full rather than computed, so it checks the rules instead of restating the code.
  const table: Record<DeviceStatus, Record<DeviceStatus, string | null>> = {
    unplugged: { online: 'online', offline: 'offline', utilizing: 'utilizing', unplugged: null },
    online: { online: null, offline: 'offline', utilizing: 'utilizing', unplugged: 'unplugged' },
    offline: { online: 'online', offline: null, utilizing: 'utilizing', unplugged: 'unplugged' },
    utilizing: { online: null, offline: 'offline', utilizing: null, unplugged: 'unplugged' },
  };
  for (const from of DEVICE_STATUSES) {
    for (const to of DEVICE_STATUSES) {
      it(`${from} → ${to} fires ${table[from][to] ?? 'nothing'}`, () => {
        expect(eventFor(from, to)).toBe(table[from][to]);
      });
    }
  }
});

describe('deriveStatus', () => {
  const t0 = 1_000_000;
  it('no presence anywhere is unplugged, even with a session claimed', () => {
    expect(deriveStatus([], [], null, t0, 5000, 'online')).toBe('unplugged');
    expect(deriveStatus([], [{}], null, t0, 5000, 'utilizing')).toBe('unplugged');
  });
  it('a ready presence is online, or utilizing with a session', () => {
    expect(deriveStatus([ready], [], null, t0, 5000, 'unplugged')).toBe('online');
    expect(deriveStatus([ready], [{}], null, t0, 5000, 'unplugged')).toBe('utilizing');
    expect(deriveStatus([unusable, attached, ready], [], null, t0, 5000, 'offline')).toBe('online');
  });
  it('unusable without ready is offline, sessions or not', () => {
    expect(deriveStatus([unusable], [], null, t0, 5000, 'online')).toBe('offline');
    expect(deriveStatus([attached, unusable], [{}], null, t0, 5000, 'utilizing')).toBe('offline');
  });
  it('attached only keeps the previous status through the grace period, then is offline', () => {
    for (const previous of DEVICE_STATUSES) {
      expect(deriveStatus([attached], [], t0, t0, 5000, previous)).toBe(previous);
      expect(deriveStatus([attached], [], t0, t0 + 5000, 5000, previous)).toBe(previous);
      expect(deriveStatus([attached, attached], [], t0, t0 + 5001, 5000, previous)).toBe('offline');
    }
    expect(deriveStatus([attached], [], t0, t0, 5000)).toBe('unplugged');
  });
  it('isAttachedOnly', () => {
    expect(isAttachedOnly([])).toBe(false);
    expect(isAttachedOnly([attached])).toBe(true);
    expect(isAttachedOnly([attached, unusable])).toBe(false);
  });
});

describe('udid matching', () => {
  it('an iPhone USB serial and its usbmuxd UDID share a key', () => {
    expect(udidKey('00008030001A2B3C4D5E6F70')).toBe(udidKey('00008030-001a2b3c4d5e6f70'));
    const old = 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0';
    expect(udidKey(old)).toBe(udidKey(old.toUpperCase()));
    expect(looksLikeIosUdid('00008030-001A2B3C4D5E6F70')).toBe(true);
  });
  it('Android serials compare exactly', () => {
    expect(udidKey('emulator-5554')).toBe('emulator-5554');
    expect(udidKey('emulator-5554')).not.toBe(udidKey('EMULATOR-5554'));
    expect(udidKey('ce0917198075440c057e')).not.toBe(udidKey('CE0917198075440C057E'));
    expect(udidKey('R58M-1234')).not.toBe(udidKey('R58M1234'));
  });
  it('the dashed spelling is the one shown', () => {
    expect(preferredUdid('00008030001A2B3C4D5E6F70', '00008030-001A2B3C4D5E6F70')).toBe('00008030-001A2B3C4D5E6F70');
    expect(preferredUdid('00008030-001A2B3C4D5E6F70', '00008030001A2B3C4D5E6F70')).toBe('00008030-001A2B3C4D5E6F70');
  });
});
