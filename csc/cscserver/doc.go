// Package cscserver serves the Cloud Signature Consortium API v2 (CSC) over
// the remote-signing service; package server mounts it at /csc/v2.
//
// NewHandler translates CSC JSON (the types of package csc, shared with the
// client) to calls of selo.SigningService, which *signing.Service
// implements, and maps Selo's error codes to the OAuth-style CSC errors
// ({"error": "invalid_request", "error_description": "..."}) in one place
// (errors.go). It decides nothing about who may sign: the service binds
// every SAD to the account, the credential and the exact hashes.
//
// It lives apart from the client so that integrators importing package csc
// link net/http and crypto only, not the CA behind the service; below csc/
// rather than server/ so that the protocol stays in one folder and the
// package name does not shadow the client's.
package cscserver
