// Package pki is Selo's X.509 engine: pure functions over crypto.Signer
// that build, sign and read what the certificate authority is told to, with
// no storage and no policy of who may have what.
//
// It holds certificate profiles (YAML, embedded under profiles/) and the key
// policy every incoming key passes, PKCS#10 parsing (ParseCSR), the subject
// and the ETSI qualified certificate statements (QcCompliance, QcSSCD,
// QcType, QcPDS), random serials, root, subordinate, end-entity, OCSP
// responder and time-stamping unit certificates, each linted with zlint as
// a to-be-signed certificate before the real signature, CRLs, OCSP requests
// and responses (RFC 6960), and the PEM, PKCS#7 (.p7b) and PKCS#12 (.pfx)
// encodings of certificates and keys.
//
// Deciding is the services' part: authority checks whether a certificate
// may be issued, revoked or re-issued and records it in the audit log, then
// calls this package to make it.
package pki
