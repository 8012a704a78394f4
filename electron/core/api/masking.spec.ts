import { describe, expect, it } from 'vitest';
import { MASK, maskHeaderValues, maskUrl } from './masking.js';

describe('maskUrl', () => {
  it.each([
    // Slack: the last three segments are the credential; the 24-character one carries digits.
    [
      'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXX1XXXXXXX',
      `https://hooks.slack.com/services/T00000000/B00000000/${MASK}`,
    ],
    // Discord: the numeric id (16+ characters with digits) and the token.
    [
      'https://discord.com/api/webhooks/123456789012345678/aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgHiJkLmNoPqRsTuVwXyZ',
      `https://discord.com/api/webhooks/${MASK}/${MASK}`,
    ],
    // A UUID in the path (webhook.site and many CI servers).
    ['https://webhook.site/0f8fad5b-d9cb-469f-a165-70867728950e', `https://webhook.site/${MASK}`],
    // Every query value, whatever its name; names stay.
    ['http://ci.lab:8080/hook?token=abc&team=qa', `http://ci.lab:8080/hook?token=${MASK}&team=${MASK}`],
    ['http://ci.lab/hook?0f8fad5bd9cb469fa16570867728950e', `http://ci.lab/hook?${MASK}`],
    // Userinfo and the fragment.
    ['https://user:pass@example.com/a#frag', `https://${MASK}@example.com/a#${MASK}`],
    // Ordinary paths stay readable.
    ['http://10.0.0.5:3000/labhook/device-status-callbacks', 'http://10.0.0.5:3000/labhook/device-status-callbacks'],
    ['http://[::1]:8080/v2/hooks/', 'http://[::1]:8080/v2/hooks/'],
  ])('%s', (url, masked) => {
    expect(maskUrl(url)).toBe(masked);
    expect(maskUrl(masked)).toBe(masked);
  });

  it('masks text that is not an http(s) URL whole', () => {
    expect(maskUrl('not a url')).toBe(MASK);
    expect(maskUrl('ftp://user:pw@host/')).toBe(MASK);
  });
});

describe('maskHeaderValues', () => {
  it('keeps names and masks every value', () => {
    expect(maskHeaderValues({ Authorization: 'Bearer s3cret', 'X-Team': 'qa' })).toEqual({
      Authorization: MASK,
      'X-Team': MASK,
    });
  });
});
