export type Suite = 'adb' | 'openssl' | 'usb' | 'appium' | 'chromium' | 'nats';
export const requirements: Record<Suite, () => string | null>;
export function skipReason(suite: Suite): string | null;
