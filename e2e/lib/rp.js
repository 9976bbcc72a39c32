// A relying party built with openid-client (written by others): it starts the code flow with
// PKCE and shows the verified ID token claims, as a real application would.
import http from 'node:http';
import * as client from 'openid-client';

// `register(redirectUri)` registers the client once the port is known and returns
// { client_id, client_secret }.
export async function startRelyingParty({ issuer, register, scope = 'openid profile email phone' }) {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const redirectUri = `${base}/callback`;
  const { client_id: clientId, client_secret: clientSecret } = await register(redirectUri);
  const pending = new Map();
  const results = [];
  let config;
  const ready = async () => {
    config ??= await client.discovery(
      new URL(issuer),
      clientId,
      undefined,
      clientSecret ? client.ClientSecretBasic(clientSecret) : client.None(),
      { execute: [client.allowInsecureRequests] },
    );
    return config;
  };
  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, base);
      const cfg = await ready();
      if (url.pathname === '/login') {
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const nonce = client.randomNonce();
        pending.set(state, { verifier, nonce });
        const params = {
          redirect_uri: redirectUri,
          scope: url.searchParams.get('scope') || scope,
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        };
        for (const extra of ['prompt', 'ui_locales', 'acr_values', 'max_age']) {
          if (url.searchParams.get(extra)) params[extra] = url.searchParams.get(extra);
        }
        res.writeHead(302, { location: client.buildAuthorizationUrl(cfg, params).href }).end();
      } else if (url.pathname === '/callback') {
        const state = url.searchParams.get('state');
        const expected = pending.get(state);
        if (url.searchParams.get('error')) {
          results.push({ error: url.searchParams.get('error') });
          res.writeHead(200, { 'content-type': 'text/html' }).end(`<h1 id="error">${url.searchParams.get('error')}</h1>`);
          return;
        }
        const tokens = await client.authorizationCodeGrant(cfg, url, {
          pkceCodeVerifier: expected.verifier,
          expectedNonce: expected.nonce,
          expectedState: state,
        });
        const claims = tokens.claims();
        results.push({ claims, tokens });
        res.writeHead(200, { 'content-type': 'text/html' })
          .end(`<h1 id="signed-in">Signed in</h1><pre id="claims">${JSON.stringify(claims)}</pre>`);
      } else {
        res.writeHead(404).end();
      }
    } catch (error) {
      results.push({ error: String(error) });
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  return {
    base,
    clientId,
    redirectUri,
    results,
    lastClaims: () => results.at(-1)?.claims,
    // The token response of the last sign-in (access_token for the user's own API calls).
    lastTokens: () => results.at(-1)?.tokens,
    stop: () => new Promise((r) => server.close(r)),
  };
}
