// A real SMS relay for the browser tests: an HTTP server on 127.0.0.1 that receives the text
// messages Accrete posts to `[sms] url`, checks each Standard Webhooks signature (docs/phone.md)
// with node:crypto, and hands the messages over in order, as lib/smtp.js hands over mail. The
// tests wait on messages, never on time.
import http from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// How far the `webhook-timestamp` may be from now (docs/phone.md: five minutes).
const TOLERANCE_SECONDS = 300;

// The expected `webhook-signature` entry for this message: `v1,` and the base64 HMAC-SHA256,
// keyed with the secret's bytes, of "id.timestamp.body".
export function sign(key, id, timestamp, body) {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

// Why a request is refused, or null when its signature and timestamp are right.
function refusal(key, headers, body, now) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures) return 'missing webhook headers';
  if (!/^\d+$/.test(timestamp)) return `webhook-timestamp is not a number: ${timestamp}`;
  if (Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS) return `webhook-timestamp ${timestamp} is too far from ${now}`;
  const expected = Buffer.from(sign(key, id, timestamp, body));
  // Several signatures may be given, separated by spaces (a key being rotated).
  const matches = signatures.split(' ').some((given) => {
    const candidate = Buffer.from(given);
    return candidate.length === expected.length && timingSafeEqual(candidate, expected);
  });
  return matches ? null : 'no signature matches';
}

// Starts the relay; resolves once it listens. `url` and `secret` go to the server's [sms].
export async function startSmsRelay() {
  const key = randomBytes(32);
  const secret = `whsec_${key.toString('base64')}`;
  const received = []; // messages not yet taken by nextMessage
  const waiting = []; // nextMessage calls waiting for a message
  const refused = []; // why requests were refused (a test checks that there were none)
  const seen = new Set(); // webhook-ids delivered: a retried message is handed over once

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const why = req.method !== 'POST' || req.url !== '/sms'
        ? `unexpected ${req.method} ${req.url}`
        : refusal(key, req.headers, body, Math.floor(Date.now() / 1000));
      if (why) {
        refused.push(why);
        res.writeHead(401).end();
        return;
      }
      let message;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch (error) {
        refused.push(`not JSON: ${error.message}`);
        res.writeHead(400).end();
        return;
      }
      if (!req.headers['content-type']?.startsWith('application/json')) {
        refused.push(`content-type ${req.headers['content-type']}`);
        res.writeHead(415).end();
        return;
      }
      res.writeHead(204).end();
      const id = req.headers['webhook-id'];
      if (seen.has(id)) return;
      seen.add(id);
      message.webhookId = id;
      const next = waiting.shift();
      if (next) next.resolve(message);
      else received.push(message);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${server.address().port}/sms`,
    secret,
    // The server's settings for this relay, as environment variables.
    env() {
      return { ACCRETE_SMS__URL: this.url, ACCRETE_SMS__SECRET: secret };
    },
    // The next message received: { type, id, to, body, locale, purpose, code, expires_at }. It
    // must be to `to` (when given): a message to any other number first fails the test.
    async nextMessage({ to, timeoutMs = 20000 } = {}) {
      let message = received.shift();
      if (!message) {
        message = await new Promise((resolve, reject) => {
          const entry = { resolve, reject };
          const timer = setTimeout(() => {
            waiting.splice(waiting.indexOf(entry), 1);
            reject(new Error(`no text message${to ? ` to ${to}` : ''} within ${timeoutMs} ms${refused.length ? ` (refused: ${refused.join('; ')})` : ''}`));
          }, timeoutMs);
          entry.resolve = (m) => { clearTimeout(timer); resolve(m); };
          waiting.push(entry);
        });
      }
      if (to && message.to !== to) {
        throw new Error(`the next text message is to ${message.to} ("${message.body}"), not to ${to}`);
      }
      return message;
    },
    // Messages received and not taken yet.
    pending: () => received.length,
    // Why requests were refused (bad signature, stale timestamp, ...).
    refused: () => [...refused],
    stop: () => new Promise((resolve) => {
      for (const w of waiting.splice(0)) w.reject?.(new Error('the SMS relay stopped'));
      server.close(resolve);
      server.closeAllConnections?.();
    }),
  };
}
