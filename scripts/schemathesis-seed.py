"""Seeds the server that scripts/schemathesis tests, and prints a signed-in user's access token.

    schemathesis-seed.py BASE_URL ADMIN_TOKEN

Through the API (as a back end would): three users (one with a password and the fields the
example policy asks at sign-up), a public client, a connection to an upstream provider, and a
second policy version. Then a real
authorization-code flow with PKCE through the hosted sign-in form (with its CSRF token), as a
browser would, so that /api/v1/me is tested with the user's own access token.
"""

import base64
import hashlib
import html.parser
import secrets
import sys
import urllib.parse

import requests

BASE, ADMIN = sys.argv[1], sys.argv[2]
API = f"{BASE}/api/v1"
REDIRECT = "http://127.0.0.1:9/callback"
EMAIL, PASSWORD = "ada@example.com", "correct horse battery staple"


def call(method, path, body=None, expect=(200, 201)):
    response = requests.request(
        method, API + path, json=body, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
    )
    if response.status_code not in expect:
        sys.exit(f"seed: {method} {path}: {response.status_code} {response.text}")
    return response.json() if response.content else None


call("POST", "/users", {
    "email": EMAIL, "password": PASSWORD, "email_verified": True,
    "profile": {"given_name": "Ada", "family_name": "Lovelace"},
    "user_metadata": {"terms": True, "company": "Analytical Engines"},
})
call("POST", "/users", {"email": "grace@example.com", "user_metadata": {"plan": "team"}})
call("POST", "/users", {"email": "alan@example.com", "app_metadata": {"customer_tier": "pro"}})
call("POST", "/clients", {
    "id": "schemathesis-app", "name": "Schemathesis app", "public": True,
    "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"],
    "scopes": ["openid", "profile", "email"], "allowed_origins": ["http://127.0.0.1:9"],
})
call("POST", "/connections", {
    "name": "acme", "preset": "oidc", "issuer": "https://login.acme.example",
    "client_id": "accrete", "client_secret": "schemathesis-secret", "domains": ["acme.example"],
})
published = call("GET", "/policy")
call("PUT", "/policy/draft", published["document"])
call("POST", "/policy/publish", {"note": "second version"})


class HiddenInputs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.values = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and "name" in attrs:
            self.values[attrs["name"]] = attrs.get("value", "")


browser = requests.Session()
verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
query = urllib.parse.urlencode({
    "response_type": "code", "client_id": "schemathesis-app", "redirect_uri": REDIRECT,
    "scope": "openid profile email", "state": secrets.token_urlsafe(16),
    "code_challenge": challenge, "code_challenge_method": "S256",
})
target = f"/authorize?{query}"
for _ in range(8):
    if target.startswith(REDIRECT):
        break
    response = browser.get(BASE + target, allow_redirects=False, timeout=30)
    if response.status_code == 200 and target.startswith("/login"):
        form = HiddenInputs()
        form.feed(response.text)
        response = browser.post(BASE + "/login", allow_redirects=False, timeout=30, data={
            **form.values, "email": EMAIL, "password": PASSWORD, "action": "submit",
        })
    if not response.is_redirect:
        sys.exit(f"seed: the sign-in stopped at {target}: {response.status_code}")
    target = response.headers["Location"]
else:
    sys.exit(f"seed: the sign-in did not come back to the client: {target}")
code = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)["code"][0]
token = requests.post(BASE + "/token", timeout=30, data={
    "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
    "client_id": "schemathesis-app", "code_verifier": verifier,
})
if token.status_code != 200:
    sys.exit(f"seed: token: {token.status_code} {token.text}")
print(token.json()["access_token"])
