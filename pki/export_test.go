package pki

// SameSizeLintTwin returns a copy of iss whose throwaway key has the size
// and curve of the real key, as every issuer had before lintKey made it the
// cheapest of its type: the reference TestCheapLintKey compares against.
func SameSizeLintTwin(iss *Issuer) (*Issuer, error) {
	key, err := throwawayKey(iss.Cert.PublicKey)
	if err != nil {
		return nil, err
	}
	twin, err := lintTwin(iss.Cert, key)
	if err != nil {
		return nil, err
	}
	out := *iss
	out.lintSigner, out.lintCert, out.lintSigAlg = key, twin, 0
	return &out, nil
}
