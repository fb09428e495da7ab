// Package csc is a Go client of the Cloud Signature Consortium API v2
// (CSC): what integrators import to sign with a Selo cloud credential.
//
// Client calls the API (auth/login, credentials/list, credentials/info,
// credentials/authorize, credentials/authorizeCheck, signatures/signHash);
// Signer is a crypto.Signer over a remote credential, so CMS, PAdES and
// XAdES code signs through it as with a local key. The JSON bodies
// (wire.go), the CSC error answer (Error) and the OIDs are the protocol's,
// shared with the server handlers in csc/cscserver.
//
// The package links net/http, crypto and encoding only: nothing of the CA,
// the store or the signing service (TestClientLinksNoServer holds it to that).
//
// Asynchronous approvals: when a credential is approved with the holder's
// wallet, credentials/authorize answers without a SAD and with a
// "responseID"; the client polls credentials/authorizeCheck with that
// responseID until the holder decides (SAD), denies (access_denied) or the
// approval expires (access_denied).
package csc
