// Package csc serves the Cloud Signature Consortium API v2 (CSC) over a
// remote-signing backend and holds a Go client for it.
//
// The server side (NewHandler) translates CSC JSON to calls of Backend, the
// small interface *signing.Service satisfies, and maps Selo's error codes to
// the OAuth-style CSC errors ({"error": "invalid_request",
// "error_description": "..."}) in one place (errors.go). It decides nothing
// about who may sign: the backend binds every SAD to the account, the
// credential and the exact hashes.
//
// The client side (Client, Signer) is what integrators import: Signer is a
// crypto.Signer over a remote credential, so CMS, PAdES and XAdES code signs
// through it as with a local key.
//
// Asynchronous approvals: when a credential is approved with the holder's
// wallet, credentials/authorize answers without a SAD and with a
// "responseID"; the client polls credentials/authorizeCheck with that
// responseID until the holder decides (SAD), denies (access_denied) or the
// approval expires (access_denied).
package csc
