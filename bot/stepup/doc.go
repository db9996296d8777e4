// Package stepup is the browser side of an approval that needs step-up
// (approvals.StepUp): a fresh Microsoft Entra sign-in with MFA by the approver before their
// approval counts.
//
// It owns the one-time link the chat answers Approve with (Flow.Link: bound to this
// approver, this request and this decision, valid LinkLifetime, single use, stored as a
// Challenge with only hashes of its secrets), the HTTP endpoints under /stepup/ (the page
// the link opens, the start of the sign-in, the callback), the OpenID Connect client that
// runs the sign-in (authorization code flow with PKCE, prompt=login and max_age, the claims
// request for a Conditional Access authentication context, a fresh nonce and state,
// form_post) with the same app registration as Graph, and the checks of the ID token
// (signature against the tenant's published keys, issuer, audience, lifetime, nonce,
// tenant). What the sign-in must prove (the approver's own, fresh, MFA) is the core's
// rule: the verified claims go to approvals through a Decider (commands.Dispatcher), which
// makes the decision through the same compare-and-set as any approval and words the result.
//
// The endpoints are rate-limited, answer with strict security headers (no caching, a CSP
// without scripts, no framing, no referrer) and carry no secret in a URL but the link's
// own one-time token and the OAuth state. Nothing here logs a secret, a code or a token.
//
// It imports approvals, bot and golang-jwt (and azidentity to read a certificate), never
// commands, storage, graph or another adapter: storage implements Store, commands
// implements Decider.
package stepup
