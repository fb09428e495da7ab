package csc

// The JSON bodies of the CSC API v2 endpoints, shared by the handlers and the
// client. Field names are the specification's; unknown fields in requests are
// tolerated (the specification has many optional ones, e.g. clientData and
// lang), but fields whose value would change the meaning of a request and
// that this service does not support (operationMode "A", a PIN) are refused.

// InfoResponse is the answer of info.
type InfoResponse struct {
	Specs          string         `json:"specs"`
	Name           string         `json:"name"`
	Logo           string         `json:"logo"`
	Region         string         `json:"region"`
	Lang           string         `json:"lang"`
	Description    string         `json:"description"`
	AuthType       []string       `json:"authType"`
	Methods        []string       `json:"methods"`
	SignAlgorithms SignAlgorithms `json:"signAlgorithms"`
}

// SignAlgorithms lists the signAlgo OIDs the service supports.
type SignAlgorithms struct {
	Algos []string `json:"algos"`
}

// LoginRequest is the body of auth/login (optional: the e-mail and password
// travel in HTTP Basic authentication).
type LoginRequest struct {
	RememberMe bool   `json:"rememberMe,omitempty"`
	ClientData string `json:"clientData,omitempty"`
}

// LoginResponse is the answer of auth/login.
type LoginResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"` // seconds
}

// RevokeRequest is the body of auth/revoke. An empty Token revokes the
// access token of the request itself.
type RevokeRequest struct {
	Token         string `json:"token,omitempty"`
	TokenTypeHint string `json:"token_type_hint,omitempty"`
	ClientData    string `json:"clientData,omitempty"`
}

// CredentialsListRequest is the body of credentials/list.
type CredentialsListRequest struct {
	UserID         string `json:"userID,omitempty"`
	CredentialInfo bool   `json:"credentialInfo,omitempty"`
	Certificates   string `json:"certificates,omitempty"` // none, single (default) or chain
	CertInfo       bool   `json:"certInfo,omitempty"`
	AuthInfo       bool   `json:"authInfo,omitempty"`
	OnlyValid      bool   `json:"onlyValid,omitempty"`
	Lang           string `json:"lang,omitempty"`
	ClientData     string `json:"clientData,omitempty"`
}

// CredentialsListResponse is the answer of credentials/list.
type CredentialsListResponse struct {
	CredentialIDs   []string           `json:"credentialIDs"`
	CredentialInfos []CredentialDetail `json:"credentialInfos,omitempty"`
	OnlyValid       bool               `json:"onlyValid"`
}

// CredentialsInfoRequest is the body of credentials/info.
type CredentialsInfoRequest struct {
	CredentialID string `json:"credentialID"`
	Certificates string `json:"certificates,omitempty"` // none, single (default) or chain
	CertInfo     bool   `json:"certInfo,omitempty"`
	AuthInfo     bool   `json:"authInfo,omitempty"`
	Lang         string `json:"lang,omitempty"`
	ClientData   string `json:"clientData,omitempty"`
}

// CredentialDetail is the answer of credentials/info, and one entry of
// credentialInfos in credentials/list (with CredentialID set).
type CredentialDetail struct {
	CredentialID       string      `json:"credentialID,omitempty"`
	Description        string      `json:"description,omitempty"`
	SignatureQualifier string      `json:"signatureQualifier,omitempty"`
	Key                KeyInfo     `json:"key"`
	Cert               CertInfo    `json:"cert"`
	Auth               AuthInfo    `json:"auth"`
	AuthMode           string      `json:"authMode"` // v1 name of Auth.Mode, for older clients
	OTP                *OTPInfo    `json:"OTP,omitempty"`
	SCAL               string      `json:"SCAL"`
	Multisign          int         `json:"multisign"`
	Lang               string      `json:"lang,omitempty"`
	PIN                *PINPresent `json:"PIN,omitempty"`
}

// KeyInfo describes the credential's key.
type KeyInfo struct {
	Status string   `json:"status"` // enabled or disabled
	Algo   []string `json:"algo"`   // signAlgo OIDs
	Len    int      `json:"len"`    // bits
	Curve  string   `json:"curve,omitempty"`
}

// CertInfo describes the credential's certificate.
type CertInfo struct {
	Status       string   `json:"status,omitempty"` // valid, expired, not_yet_valid, revoked, suspended or superseded
	Certificates []string `json:"certificates,omitempty"`
	IssuerDN     string   `json:"issuerDN,omitempty"`
	SerialNumber string   `json:"serialNumber,omitempty"` // hex
	SubjectDN    string   `json:"subjectDN,omitempty"`
	ValidFrom    string   `json:"validFrom,omitempty"` // GeneralizedTime, YYYYMMDDHHMMSSZ
	ValidTo      string   `json:"validTo,omitempty"`
}

// AuthInfo says how signatures with the credential are authorized.
type AuthInfo struct {
	Mode       string       `json:"mode"` // always "explicit"
	Expression string       `json:"expression,omitempty"`
	Objects    []AuthObject `json:"objects,omitempty"`
	// Approval is Selo's approval type: sms, authenticator, wallet or
	// authorizer. A wallet approval has no object: authorize answers with a
	// responseID to poll with credentials/authorizeCheck.
	Approval string `json:"approval"`
}

// AuthObject is one piece of authorization data the client must send in
// authData (or, v1 style, in OTP).
type AuthObject struct {
	Type        string `json:"type"` // OTP
	ID          string `json:"id"`
	Format      string `json:"format"` // N: numeric
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	Generator   string `json:"generator,omitempty"`
}

// OTPInfo is the v1 OTP object of credentials/info.
type OTPInfo struct {
	Presence    string `json:"presence"` // "true"
	Type        string `json:"type"`     // online (sent by sendOTP) or offline (generated by the holder)
	Format      string `json:"format"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	ID          string `json:"ID"`
	Provider    string `json:"provider"`
}

// PINPresent is the v1 PIN object: no PIN is ever asked here.
type PINPresent struct {
	Presence string `json:"presence"`
}

// SendOTPRequest is the body of credentials/sendOTP.
type SendOTPRequest struct {
	CredentialID string `json:"credentialID"`
	ClientData   string `json:"clientData,omitempty"`
}

// AuthData is one entry of authData in credentials/authorize.
type AuthData struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// CredentialsAuthorizeRequest is the body of credentials/authorize. The OTP goes in
// authData (id "OTP"), or v1 style in OTP.
type CredentialsAuthorizeRequest struct {
	CredentialID     string     `json:"credentialID"`
	NumSignatures    int        `json:"numSignatures"`
	Hashes           []string   `json:"hashes"`
	HashAlgorithmOID string     `json:"hashAlgorithmOID"`
	AuthData         []AuthData `json:"authData,omitempty"`
	OTP              string     `json:"OTP,omitempty"`
	PIN              string     `json:"PIN,omitempty"`
	Description      string     `json:"description,omitempty"`
	ClientData       string     `json:"clientData,omitempty"`
}

// AuthorizeResponse is the answer of credentials/authorize and
// credentials/authorizeCheck: a SAD, or (wallet approvals) a ResponseID to
// poll while the holder has not decided.
type AuthorizeResponse struct {
	SAD        string `json:"SAD,omitempty"`
	ResponseID string `json:"responseID,omitempty"`
	ExpiresIn  int64  `json:"expiresIn"` // seconds, of the SAD or of the pending approval
}

// AuthorizeCheckRequest is the body of credentials/authorizeCheck.
type AuthorizeCheckRequest struct {
	CredentialID string `json:"credentialID,omitempty"`
	ResponseID   string `json:"responseID"`
	ClientData   string `json:"clientData,omitempty"`
}

// SignaturesSignHashRequest is the body of signatures/signHash.
type SignaturesSignHashRequest struct {
	CredentialID     string   `json:"credentialID"`
	SAD              string   `json:"SAD"`
	Hashes           []string `json:"hashes"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID,omitempty"`
	SignAlgo         string   `json:"signAlgo"`
	SignAlgoParams   string   `json:"signAlgoParams,omitempty"`
	OperationMode    string   `json:"operationMode,omitempty"`
	ClientData       string   `json:"clientData,omitempty"`
}

// SignaturesSignHashResponse is the answer of signatures/signHash: one base64
// signature per hash, in order.
type SignaturesSignHashResponse struct {
	Signatures []string `json:"signatures"`
}
