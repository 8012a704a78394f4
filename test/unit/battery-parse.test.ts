/** dumpsys battery across Android releases, and lockdown's battery domain: what each field means, and unknown is never 0. */
import { describe, expect, it } from 'vitest';
import { parseDumpsysBattery, readingFromLockdown } from '../../electron/core/devices/health/battery.js';
import { ANDROID_FORMATS, dumpsysBattery } from '../peers/dumpsys-battery.js';
import { DEFAULT_HEALTH_SETTINGS } from '../../electron/core/api/schemas.js';
import { simulatedBattery } from '../../electron/core/devices/health/readers.js';
import { raisedWarnings } from '../../electron/core/devices/health/warnings.js';

describe('dumpsys battery', () => {
  it.each(ANDROID_FORMATS)('Android %s: level, tenths of a degree, status, health, power source', (format) => {
    expect(parseDumpsysBattery(dumpsysBattery(format, { usb: true, level: 85, temperature: 295 }))).toEqual({
      level: 85,
      temperature: 29.5,
      charging: true,
      power: 'usb',
      health: 'good',
    });
  });

  it('Gingerbread: AC powered, no space after voltage, no wireless line', () => {
    const text = dumpsysBattery('2.3', { ac: true, usb: false, status: 5, level: 100, temperature: 310 });
    expect(text).toContain('voltage:3986');
    expect(parseDumpsysBattery(text)).toEqual({
      level: 100,
      temperature: 31,
      charging: false,
      power: 'ac',
      health: 'good',
    });
  });

  it('level is scaled by scale; a scale of 0 or a level above it is unknown', () => {
    expect(parseDumpsysBattery(dumpsysBattery('4.4', { level: 40, scale: 50 })).level).toBe(80);
    expect(parseDumpsysBattery(dumpsysBattery('4.4', { level: 40, scale: 0 })).level).toBeNull();
    expect(parseDumpsysBattery(dumpsysBattery('4.4', { level: 140 })).level).toBeNull();
  });

  it('missing fields are unknown, never zero', () => {
    const reading = parseDumpsysBattery(
      dumpsysBattery('14', { level: undefined, temperature: undefined, status: undefined, health: undefined }),
    );
    expect(reading).toEqual({ level: null, temperature: null, charging: null, power: 'usb', health: null });
  });

  it('no charger on any line is the battery; Android 14 dock power is a source', () => {
    expect(parseDumpsysBattery(dumpsysBattery('8.0', { usb: false, status: 3 })).power).toBe('battery');
    expect(parseDumpsysBattery(dumpsysBattery('14', { usb: false, dock: true })).power).toBe('dock');
    expect(parseDumpsysBattery(dumpsysBattery('8.0', { usb: false, wireless: true })).power).toBe('wireless');
  });

  it.each([
    [3, 'overheat'],
    [4, 'dead'],
    [5, 'over_voltage'],
    [6, 'failure'],
    [7, 'cold'],
    [1, null],
    [9, null],
  ])('health %i is %s', (code, health) => {
    expect(parseDumpsysBattery(dumpsysBattery('8.0', { health: code })).health).toBe(health);
  });

  it('status: 4 (not charging) on a charger is not charging', () => {
    expect(parseDumpsysBattery(dumpsysBattery('8.0', { status: 4 })).charging).toBe(false);
  });

  it('a device without a battery has no level or temperature', () => {
    const reading = parseDumpsysBattery(dumpsysBattery('14', { present: false, level: 0, temperature: 0 }));
    expect(reading.level).toBeNull();
    expect(reading.temperature).toBeNull();
  });

  it('reads past a stopped-updates banner, CRLF line ends and vendor lines, first occurrence wins', () => {
    const text = [
      'Current Battery Service state:\r',
      "  (UPDATES STOPPED -- use 'reset' to restart)\r",
      '  AC powered: false\r',
      '  USB powered: true\r',
      '  Wireless powered: false\r',
      '  status: 2\r',
      '  health: 2\r',
      '  present: true\r',
      '  level: 42\r',
      '  scale: 100\r',
      '  voltage: 3900\r',
      '  temperature: 512\r',
      '  technology: Li-ion\r',
      '  mSecPlugTypeSummary: 2\r',
      '  LED Charging: true\r',
      '  level: 99\r',
    ].join('\n');
    expect(parseDumpsysBattery(text)).toEqual({
      level: 42,
      temperature: 51.2,
      charging: true,
      power: 'usb',
      health: 'good',
    });
  });

  it('what is not a dumpsys answer reads as unknown', () => {
    for (const text of ['', "Can't find service: battery\n", '/system/bin/sh: dumpsys: not found\n']) {
      expect(parseDumpsysBattery(text)).toEqual({
        level: null,
        temperature: null,
        charging: null,
        power: null,
        health: null,
      });
    }
    expect(
      parseDumpsysBattery('Current Battery Service state:\n  level: lots\n  temperature: 9999\n').level,
    ).toBeNull();
  });
});

describe('lockdown battery domain', () => {
  it('capacity, charging and external power', () => {
    expect(
      readingFromLockdown({
        BatteryCurrentCapacity: 64,
        BatteryIsCharging: true,
        ExternalChargeCapable: true,
        ExternalConnected: true,
        FullyCharged: false,
        HasBattery: true,
      }),
    ).toEqual({ level: 64, temperature: null, charging: true, power: 'external', health: null });
    expect(readingFromLockdown({ BatteryCurrentCapacity: 20, ExternalConnected: false })).toMatchObject({
      level: 20,
      charging: null,
      power: 'battery',
    });
  });

  it('missing or odd values are unknown', () => {
    expect(readingFromLockdown({})).toEqual({
      level: null,
      temperature: null,
      charging: null,
      power: null,
      health: null,
    });
    expect(readingFromLockdown({ BatteryCurrentCapacity: 101 }).level).toBeNull();
    expect(readingFromLockdown({ BatteryCurrentCapacity: '50' }).level).toBeNull();
    expect(readingFromLockdown({ HasBattery: false, BatteryCurrentCapacity: 0 }).level).toBeNull();
  });
});

describe('demo batteries', () => {
  it('stay within 20–100 %, charge on USB and drain on battery, and show the two problems', () => {
    for (let n = 1; n <= 12; n++) {
      for (let at = 0; at < 2 * 3600_000; at += 97_000) {
        const reading = simulatedBattery(`demo-${String(n).padStart(2, '0')}`, at);
        expect(reading.level).toBeGreaterThanOrEqual(n % 7 === 0 ? 9 : 20);
        expect(reading.level).toBeLessThanOrEqual(100);
        if (n % 7 !== 0) expect(reading.power).toBe(reading.charging ? 'usb' : 'battery');
      }
    }
    const hot = simulatedBattery('demo-05', 0);
    expect(raisedWarnings(hot, 0, DEFAULT_HEALTH_SETTINGS).map((w) => w.code)).toEqual(['battery_hot']);
    const stuck = simulatedBattery('demo-07', 0);
    expect(raisedWarnings(stuck, 0, DEFAULT_HEALTH_SETTINGS).map((w) => w.code)).toEqual(['not_charging']);
    expect(raisedWarnings(simulatedBattery('demo-01', 0), 0, DEFAULT_HEALTH_SETTINGS)).toEqual([]);
  });
});
