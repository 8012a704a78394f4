/**
 * Which USB devices are phones. The bus tells us a vendor id, a product id and the interface
 * classes, not "this is a phone", so recognition is by maker: every Android maker below ships its
 * phones under its own vendor id (in every USB mode: MTP, PTP, adb, tethering, charge-only), and
 * Apple's iOS devices sit in one product range. Several of these makers also sell keyboards, mice,
 * docks and security keys under the same vendor id; `phoneMaker` rejects those by the precise
 * product range where one is known (Apple) and by interface class otherwise. Makers whose ids
 * mostly cover PC parts (Dell, Acer, Foxconn) or chips (MediaTek, Qualcomm: laptop Bluetooth and
 * Wi-Fi) are left out on purpose: a phone of theirs is rarer in a lab than a false alarm.
 */
import type { Platform } from './model.js';

export interface PhoneMaker {
  maker: string;
  platform: Platform;
  /** Product ids that are phones, when the maker's id also covers other products and the range is known. */
  products?: (productId: number) => boolean;
}

/**
 * Apple's iPhone, iPad and iPod touch in normal mode: 0x1290 (the first iPhone) to 0x12af; every
 * iPhone since the 5 is 0x12a8 and every iPad since the 4th generation 0x12ab. Apple's 0x12xx ids
 * below 0x1290 are classic iPods (no iOS) and the recovery (0x1280–0x1283) and DFU (0x1222,
 * 0x1227) modes, whose serial is a chip description instead of the UDID; keyboards, trackpads and
 * hubs are 0x02xx, 0x10xx and others.
 */
export function isAppleMobileDevice(productId: number): boolean {
  return productId >= 0x1290 && productId <= 0x12af;
}

const android = (maker: string): PhoneMaker => ({ maker, platform: 'android' });

export const PHONE_VENDORS: ReadonlyMap<number, PhoneMaker> = new Map([
  [0x05ac, { maker: 'Apple', platform: 'ios', products: isAppleMobileDevice }],
  [0x18d1, android('Google')],
  [0x04e8, android('Samsung')],
  [0x2717, android('Xiaomi')],
  [0x2a70, android('OnePlus')],
  [0x22b8, android('Motorola')],
  [0x12d1, android('Huawei')],
  [0x339b, android('Honor')],
  [0x0fce, android('Sony')],
  [0x1004, android('LG')],
  [0x22d9, android('OPPO')], // Realme phones use OPPO's id too
  [0x2d95, android('vivo')],
  [0x0bb4, android('HTC')],
  [0x17ef, android('Lenovo')],
  [0x19d2, android('ZTE')],
  [0x2e04, android('Nokia (HMD)')],
  [0x0b05, android('Asus')],
  [0x1bbb, android('Alcatel (TCL)')],
  [0x2970, android('Wileyfox')],
  [0x2ae5, android('Fairphone')],
  [0x1ebf, android('Coolpad')],
  [0x2a45, android('Meizu')],
  [0x2b4c, android('ZUK')],
  [0x2916, android('Yota')],
  [0x2b0e, android('LeEco')],
  [0x1949, android('Amazon')],
]);

/** A hub is never a phone, whatever its vendor (Samsung monitors and Lenovo docks carry hubs). */
const CLASS_HUB = 0x09;

/**
 * Interface classes a phone never offers on their own: audio (0x01), HID (0x03: keyboards, mice,
 * Google's Titan key, gamepads), printer (0x07), mass storage (0x08: Samsung's portable SSDs),
 * hub (0x09), smart card (0x0b), video (0x0e: webcams) and wireless controller (0xe0: Bluetooth).
 * A phone always adds MTP/PTP, adb, CDC or vendor interfaces (RNDIS tethering is 0xe0 with a 0x0a
 * data interface), so a device whose interfaces all fall in this set is some other product.
 */
const ACCESSORY_INTERFACE_CLASSES: ReadonlySet<number> = new Set([0x01, 0x03, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0xe0]);

export interface UsbIdentity {
  vendorId: number;
  productId: number;
  deviceClass: number;
  /** The interface classes of the active configuration; empty when they could not be read. */
  interfaceClasses: readonly number[];
}

/** The maker of this device when it is a phone, else null. */
export function phoneMaker(identity: UsbIdentity): PhoneMaker | null {
  const maker = PHONE_VENDORS.get(identity.vendorId);
  if (!maker) return null;
  if (maker.products && !maker.products(identity.productId)) return null;
  if (identity.deviceClass === CLASS_HUB) return null;
  const classes = identity.interfaceClasses;
  if (classes.length > 0 && classes.every((c) => ACCESSORY_INTERFACE_CLASSES.has(c))) return null;
  return maker;
}
