// Package graphtest simulates a Microsoft Entra tenant behind a real HTTP server that speaks
// Microsoft Graph's wire format, so that tests, benchmarks and `mfabot demo` drive the real
// msgraph-sdk-go client (its paging, batching, retry and JSON handling) instead of a mock.
//
// It owns:
//   - the tenant model ([Tenant]): users (members and #EXT# guests), authentication methods,
//     the per-user MFA state, revocation times, groups with nested membership, licensing and
//     the application permissions granted to the app, plus a deterministic generator
//     ([Generate]) for tenants of any size;
//   - the Graph endpoints mfabot uses, under /v1.0 and /beta: users (lookup, OData $filter,
//     $select, $top, $count and skiptoken paging), authentication methods (list and typed
//     delete, with Entra's rules on the default method; hardware OATH tokens listed in
//     v1.0 and read and deleted in beta hardwareOathMethods), beta signInPreferences (the
//     default second factor), revokeSignInSessions, the userRegistrationDetails report,
//     beta per-user MFA requirements, Temporary Access Passes (create, with the
//     policy's refusals) and the Temporary Access Pass policy ([TAPPolicy], off by
//     default as in Entra), groups and transitive members, checkMemberGroups,
//     service principals and app role assignments, and JSON batching ($batch, up to 20
//     requests, each throttled on its own);
//   - a fake Microsoft identity platform authority over TLS (OpenID configuration, JWKS and
//     the client-credentials token endpoint, Entra's AADSTS errors) so the real
//     azidentity.ClientSecretCredential obtains RS256 access tokens shaped like Entra's;
//     Graph verifies their signature, lifetime, tenant and audience (its own URL or
//     https://graph.microsoft.com) and answers 401 InvalidAuthenticationToken otherwise.
//     Unlike Entra, granted permissions are checked live rather than read from the
//     token's roles, so [Tenant.SetGranted] takes effect without a new token;
//   - interactive sign-in (signin.go): the v2.0 authorize endpoint with a sign-in page for
//     people (pick a user, "Sign in with MFA" or "Password only"), a session per browser
//     honouring prompt and max_age, the claims request for an authentication context,
//     PKCE, form_post and query answers, the authorization_code grant (client secret or
//     certificate assertion) issuing v2.0 ID tokens signed with the published keys, the app
//     registration's redirect URIs and optional claims (GET /applications), and a hook that
//     tampers with ID tokens for relying parties' negative tests ([Server.SetIDTokenHook]);
//   - Entra's documented throttling (resource units per app per tenant with the documented
//     costs, write quotas per app and per tenant, the reports limit, Exchange Online's 30
//     messages per minute per mailbox) with the real 429 and
//     x-ms-* headers, each batch item metered on its own, scalable in time for benchmarks
//     and run on a clock tests can replace (Options.Now), plus injected faults: latency,
//     5xx and 503s with Retry-After (on whole requests, and with Faults.InBatches on batch
//     items too), hanging requests, and windows of 429s ([Server.ThrottleFor]);
//   - a record of every mutating call, batch items included ([Server.Calls], [Server.Count]
//     with the operations OpRevoke "revokeSignInSessions", OpDeleteMethod "deleteMethod",
//     OpSetRequirements "setRequirements", OpSetSignInPreferences "setSignInPreferences",
//     OpCreateTAP "createTemporaryAccessPass" and OpSendMail "sendMail"), and request
//     statistics ([Server.Stats]).
//
// Errors use Graph's error body ({"error":{"code","message","innerError"}}) and codes.
// Where Microsoft documents a rule but not its exact message, the message is modeled and
// says so in a comment.
//
// graphtest must not import other mfabot packages: it stands for Microsoft's side of the
// wire, and the graph package is tested against it, not the other way round.
package graphtest
