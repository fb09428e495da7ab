package cscserver

import "github.com/selo-qtsp/selo/csc"

// impliedHash is the hash a signAlgo fixes; rsaEncryption and RSASSA-PSS
// fix none, so hashAlgorithmOID must name it.
var impliedHash = map[string]string{
	csc.OIDECDSAWithSHA256: csc.OIDSHA256,
	csc.OIDECDSAWithSHA384: csc.OIDSHA384,
	csc.OIDECDSAWithSHA512: csc.OIDSHA512,
	csc.OIDSHA256WithRSA:   csc.OIDSHA256,
	csc.OIDSHA384WithRSA:   csc.OIDSHA384,
	csc.OIDSHA512WithRSA:   csc.OIDSHA512,
}

// allSignAlgorithms is what info advertises: every signAlgo some key here
// can use.
var allSignAlgorithms = []string{
	csc.OIDECDSAWithSHA256, csc.OIDECDSAWithSHA384, csc.OIDECDSAWithSHA512,
	csc.OIDRSAEncryption, csc.OIDSHA256WithRSA, csc.OIDSHA384WithRSA, csc.OIDSHA512WithRSA, csc.OIDRSAPSS,
}
