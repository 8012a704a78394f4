/**
 * What a receiver's credentials look like to those who may not hold them. A webhook's custom
 * headers and its URL often are the credential (an `authorization` header; a Slack-style URL whose
 * path is the secret), so viewers and the delivery log see them masked. One rule, documented in the
 * README:
 * - a custom header keeps its name; its value becomes `MASK`;
 * - in a URL, the userinfo, every query value and the fragment become `MASK`, and so does every
 *   path segment that looks like a token: 16 or more characters with a digit in them, or 32 or more
 *   characters of any kind.
 * Masking is idempotent (a masked URL masks to itself). Pure: the forms use it too.
 */

export const MASK = '****';

const TOKEN_LIKE = (segment: string): boolean => segment.length >= 32 || (segment.length >= 16 && /\d/.test(segment));

/** The URL with its secret-looking parts masked; text that does not parse as a URL is masked whole. */
export function maskUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return MASK;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return MASK;
  const userinfo = url.username || url.password ? `${MASK}@` : '';
  const path = url.pathname
    .split('/')
    .map((segment) => (TOKEN_LIKE(segment) ? MASK : segment))
    .join('/');
  const query = url.search
    ? '?' +
      url.search
        .slice(1)
        .split('&')
        .map((pair) => {
          const eq = pair.indexOf('=');
          return eq < 0 ? (TOKEN_LIKE(pair) ? MASK : pair) : `${pair.slice(0, eq)}=${MASK}`;
        })
        .join('&')
    : '';
  const fragment = url.hash ? `#${MASK}` : '';
  return `${url.protocol}//${userinfo}${url.host}${path}${query}${fragment}`;
}

/** Header names kept, values masked. */
export function maskHeaderValues(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) out[name] = MASK;
  return out;
}
