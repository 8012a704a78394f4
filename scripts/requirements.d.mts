export type Suite = 'adb' | 'usb' | 'appium' | 'chromium';
export const requirements: Record<Suite, () => string | null>;
export function skipReason(suite: Suite): string | null;
