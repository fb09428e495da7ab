package csc

import (
	"context"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/signing"
)

// Backend is what the CSC handlers need from the remote-signing service;
// *signing.Service satisfies it. Errors are selo.Errors whose codes the
// handlers map to CSC error names (see errors.go).
type Backend interface {
	Login(ctx context.Context, email, password string) (token string, sess *selo.Session, err error)
	Authenticate(ctx context.Context, token string) (*selo.Session, error)
	Logout(ctx context.Context, token string) error
	ListCredentials(ctx context.Context, accountID string) ([]*CredentialInfo, error)
	CredentialInfo(ctx context.Context, accountID, credentialID string) (*CredentialInfo, error)
	SendOTP(ctx context.Context, accountID, credentialID string) error
	Authorize(ctx context.Context, req AuthorizeRequest) (*AuthorizeResult, error)
	AuthorizeCheck(ctx context.Context, accountID, approvalID string) (*AuthorizeResult, error)
	SignHash(ctx context.Context, req SignHashRequest) ([][]byte, error)
}

// The request and result types are the signing service's own, so that
// *signing.Service is a Backend as it is.
type (
	CredentialInfo   = signing.CredentialInfo
	AuthorizeRequest = signing.AuthorizeRequest
	AuthorizeResult  = signing.AuthorizeResult
	SignHashRequest  = signing.SignHashRequest
)

var _ Backend = (*signing.Service)(nil)
