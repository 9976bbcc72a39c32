// An upstream identity provider for the federation tests: oidc-provider (npm), the certified
// OpenID Provider for Node.js, with its own development sign-in and consent pages (plain HTML
// forms: any login, checked against the one account here).
//
// It listens on http://localhost:PORT, not 127.0.0.1, where Accrete runs: browsers keep cookies
// per host, not per port, so the two servers' cookies must not meet.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

// The one person who can sign in here (login `ada`, any password).
export const ADA = {
  sub: 'ada',
  email: 'ada@example.com',
  email_verified: true,
  given_name: 'Ada',
  family_name: 'Lovelace',
};

// Listens on localhost (both of its addresses, where this machine has IPv6) at one port and
// returns the servers and the port.
async function listenOnLocalhost(handler) {
  const first = http.createServer(handler);
  await new Promise((resolve, reject) => {
    first.once('error', reject);
    first.listen(0, '127.0.0.1', resolve);
  });
  const { port } = first.address();
  const servers = [first];
  const second = http.createServer(handler);
  await new Promise((resolve) => {
    second.once('error', () => resolve()); // no IPv6 loopback here: 127.0.0.1 is enough
    second.listen(port, '::1', () => {
      servers.push(second);
      resolve();
    });
  });
  return { servers, port };
}

// Starts the provider with one confidential client (`client_secret_basic`) whose redirect URI is
// `redirectUri` (Accrete's `{public_url}/login/{connection}/callback`). PKCE is required; the
// authorization response carries `iss` (RFC 9207: always on in oidc-provider 9, which advertises
// `authorization_response_iss_parameter_supported`).
export async function startUpstream({ redirectUri, clientId = 'accrete', accounts = [ADA] }) {
  let provider;
  const { servers, port } = await listenOnLocalhost((req, res) => provider.callback()(req, res));
  const issuer = `http://localhost:${port}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const byId = new Map(accounts.map((a) => [a.sub, a]));
  provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      client_name: 'Accrete',
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['given_name', 'family_name'],
    },
    async findAccount(_ctx, id) {
      const account = byId.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ ...account }) };
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
  });
  // The authorization responses it sent, for the tests to see what came back to Accrete.
  const responses = [];
  provider.on('authorization.success', (_ctx, out) => responses.push({ ...out }));
  provider.on('authorization.error', (_ctx, error) => responses.push({ error: error.error }));
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider:', error));
  return {
    issuer,
    clientId,
    clientSecret,
    responses,
    stop: () => Promise.all(servers.map((s) => new Promise((r) => {
      s.closeAllConnections?.();
      s.close(r);
    }))),
  };
}
