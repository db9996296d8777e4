// Package teamstest holds local fakes of the Microsoft services the Teams adapter talks
// to, for tests that exercise the real adapter over real HTTP on 127.0.0.1:
//
//   - Authority: the Bot Framework OpenID metadata and JWKS, with RSA keys carrying
//     endorsements, that signs Bot Framework-shaped tokens (and every kind of bad one);
//   - Connector: the Bot Connector v3 conversations API, recording each request with the
//     bearer token it came with, enforcing Teams' limits (on a test's fake clock if given
//     one), injecting failures and holding requests in flight;
//   - TokenServer: an Entra token endpoint over TLS for the bot's client-credentials flow,
//     so the azidentity credential itself is exercised.
//
// It imports no mfabot package.
package teamstest
