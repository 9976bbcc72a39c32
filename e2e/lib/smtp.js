// A real SMTP server for the browser tests: scripts/smtp-sink (Python, aiosmtpd) as a child
// process. It prints `ready <port>`, then one JSON line per mail it received; the tests wait on
// those lines, never on time.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..', '..');

// The Python that has aiosmtpd: ACCRETE_TEST_SMTP_PYTHON, else the one scripts/install-deps makes.
function python() {
  const chosen = process.env.ACCRETE_TEST_SMTP_PYTHON || join(root, 'target', 'schemathesis-venv', 'bin', 'python');
  if (!existsSync(chosen)) {
    throw new Error(`no Python for scripts/smtp-sink at ${chosen}: run scripts/install-deps or set ACCRETE_TEST_SMTP_PYTHON`);
  }
  return chosen;
}

// Starts the sink; resolves once it listens. `url` goes to the server's [email] smtp_url.
export async function startSmtpSink() {
  const dir = mkdtempSync(join(tmpdir(), 'accrete-e2e-mail-'));
  // Standard input piped and never closed: when this process dies, the sink sees it and exits.
  const child = spawn(python(), [join(root, 'scripts', 'smtp-sink'), '0', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const received = []; // lines not yet taken by nextMail
  const waiting = []; // nextMail calls waiting for a line
  let exited = null;
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((resolvePort, reject) => {
    child.once('exit', (code) => reject(new Error(`smtp-sink exited with ${code}: ${stderr}`)));
    lines.once('line', (line) => {
      const match = /^ready (\d+)$/.exec(line);
      if (match) resolvePort(Number(match[1]));
      else reject(new Error(`unexpected first line from smtp-sink: ${line}`));
    });
  });
  lines.on('line', (line) => {
    const mail = JSON.parse(line);
    const next = waiting.shift();
    if (next) next.resolve(mail);
    else received.push(mail);
  });
  child.once('exit', (code) => {
    exited = `smtp-sink exited with ${code}: ${stderr}`;
    for (const w of waiting.splice(0)) w.reject(new Error(exited));
  });

  return {
    url: `smtp://127.0.0.1:${port}`,
    // The next mail the sink received, parsed. It must be for `to` (when given): a mail to
    // anyone else first fails the test, as an unexpected mail would be a bug.
    async nextMail({ to, timeoutMs = 20000 } = {}) {
      let line = received.shift();
      if (!line) {
        if (exited) throw new Error(exited);
        line = await new Promise((resolveLine, reject) => {
          const entry = { resolve: resolveLine, reject };
          const timer = setTimeout(() => {
            waiting.splice(waiting.indexOf(entry), 1);
            reject(new Error(`no mail${to ? ` for ${to}` : ''} within ${timeoutMs} ms`));
          }, timeoutMs);
          entry.resolve = (mail) => { clearTimeout(timer); resolveLine(mail); };
          entry.reject = (error) => { clearTimeout(timer); reject(error); };
          waiting.push(entry);
        });
      }
      const mail = { ...parseMail(readFileSync(line.path, 'latin1')), to: line.to, envelopeFrom: line.from, path: line.path };
      if (to && !(mail.to.length === 1 && mail.to[0] === to)) {
        throw new Error(`the next mail is for ${mail.to.join(', ')} ("${mail.subject}"), not for ${to}`);
      }
      return mail;
    },
    // Mails received and not taken yet (a test may check that none is left over).
    pending: () => received.length,
    async stop() {
      if (child.exitCode === null) {
        child.stdin.end();
        await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      }
      // E2E_KEEP_MAIL=1 keeps the .eml files, to read them after a failure.
      if (!process.env.E2E_KEEP_MAIL) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- A small MIME reader: enough for Accrete's mails (multipart/alternative, text/plain and
// text/html parts in quoted-printable, base64 or 7bit, UTF-8, RFC 2047 headers). The file is
// read as latin1 so that each byte is one character until a part is decoded.

function splitHeaders(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function bytes(latin1) {
  return Buffer.from(latin1, 'latin1');
}

function quotedPrintable(text) {
  return bytes(text.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))));
}

function decodeBody(body, encoding = '7bit') {
  switch (encoding.toLowerCase()) {
    case 'base64': return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable': return quotedPrintable(body).toString('utf8');
    default: return bytes(body).toString('utf8');
  }
}

// RFC 2047: adjacent encoded words are joined before UTF-8 decoding (a character may be split).
export function decodeHeader(value = '') {
  const words = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;
  let out = '';
  let pending = [];
  let last = 0;
  const flush = () => { if (pending.length) out += Buffer.concat(pending).toString('utf8'); pending = []; };
  for (const m of value.matchAll(words)) {
    const between = value.slice(last, m.index);
    if (!(pending.length && /^\s*$/.test(between))) { flush(); out += bytes(between).toString('utf8'); }
    pending.push(m[2].toUpperCase() === 'B'
      ? Buffer.from(m[3], 'base64')
      : quotedPrintable(m[3].replace(/_/g, ' ')));
    last = m.index + m[0].length;
  }
  flush();
  return out + bytes(value.slice(last)).toString('utf8');
}

function param(header = '', name) {
  const m = new RegExp(`${name}="?([^";]+)"?`, 'i').exec(header);
  return m?.[1];
}

// The leaf parts of a message: [{ type, text }].
function parts(raw) {
  const { headers, body } = splitHeaders(raw);
  const type = (headers['content-type'] || 'text/plain').split(';')[0].trim().toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = param(headers['content-type'], 'boundary');
    return body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?\\r?\\n?`))
      .slice(1, -1)
      .flatMap(parts);
  }
  return [{ type, text: decodeBody(body, headers['content-transfer-encoding']) }];
}

export function parseMail(raw) {
  const { headers } = splitHeaders(raw);
  const all = parts(raw);
  const text = all.find((p) => p.type === 'text/plain')?.text ?? '';
  const html = all.find((p) => p.type === 'text/html')?.text ?? '';
  return {
    subject: decodeHeader(headers.subject),
    from: decodeHeader(headers.from),
    language: headers['content-language'],
    headers,
    text,
    html,
    // The 6-digit code of the text, if any.
    code: /(?<!\d)(\d{6})(?!\d)/.exec(text)?.[1],
    links: [...text.matchAll(/https?:\/\/[^\s<>"')]+/g)].map((m) => m[0]),
  };
}
