// A real OpenID Connect provider for Atrium's tests (panva/oidc-provider).
//
// Configured by environment: PORT, ISSUER (default http://127.0.0.1:PORT),
// CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS (comma-separated), POST_LOGOUT_REDIRECT_URIS,
// USERS_FILE (JSON: {"login": {"email": ..., "given_name": ..., "groups": [...]}},
// re-read at every request so tests can change a person's groups between
// sign-ins), KEY_FILE (a PEM RSA private key; generated and written there if
// missing, so a second provider can share the key and differ only by issuer).
// devInteractions gives a login form that accepts any login name with any password.
import { generateKeyPairSync, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import Provider from "oidc-provider";

const env = process.env;
const port = Number(env.PORT);
const issuer = env.ISSUER || `http://127.0.0.1:${port}`;

let pem;
if (env.KEY_FILE && existsSync(env.KEY_FILE)) {
  pem = readFileSync(env.KEY_FILE, "utf8");
} else {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  pem = privateKey.export({ type: "pkcs8", format: "pem" });
  if (env.KEY_FILE) writeFileSync(env.KEY_FILE, pem);
}
const jwk = { ...createPrivateKey(pem).export({ format: "jwk" }), kid: "atrium-test", use: "sig", alg: "RS256" };

const users = () => JSON.parse(readFileSync(env.USERS_FILE, "utf8"));

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env.CLIENT_ID,
      client_secret: env.CLIENT_SECRET,
      redirect_uris: env.REDIRECT_URIS.split(","),
      post_logout_redirect_uris: env.POST_LOGOUT_REDIRECT_URIS ? env.POST_LOGOUT_REDIRECT_URIS.split(",") : [],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: ["atrium-test-cookie-key"] },
  scopes: ["openid", "email", "profile", "groups"],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name", "preferred_username"],
    groups: ["groups"],
  },
  conformIdTokenClaims: false,
  // Refresh tokens at every sign-in (not only with offline_access), as many
  // institutional providers do: Atrium keeps them to renew access tokens for jobs.
  async issueRefreshToken(ctx, client, code) {
    return client.grantTypeAllowed("refresh_token");
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const person = users()[id];
    if (!person) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, preferred_username: id, ...person };
      },
    };
  },
});
provider.proxy = false;
provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider listening on ${issuer}`));
