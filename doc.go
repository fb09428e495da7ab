// Package selo is the domain of Selo, the software a qualified trust service
// provider runs: the plain types every part speaks (accounts, CAs,
// certificates, orders, credentials, approvals, audit entries, revocations),
// the ports the infrastructure implements (Store and its per-area stores,
// KeyStore, Mailer, SMSSender, SecretBox, Clock), the interfaces of the
// services that protocols serve (SigningService, which the CSC API v2
// handlers call and *signing.Service implements) and the error codes
// (Error, ErrorCode, ErrorMessage) that each edge maps to its own answers
// once.
//
// It imports only the standard library, so any package may import it and it
// decides nothing: the services (authority, registration, signing, tsa)
// decide and orchestrate over these ports; store/sqlite, store/postgres,
// keystore/soft, keystore/pkcs11 and notify implement them; cmd/selo wires
// them. docs/architecture.md is the map of the packages.
package selo
