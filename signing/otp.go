package signing

import (
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
)

// otpParams turns stored OTP settings into approval's parameters.
func otpParams(s selo.OTPSettings) approval.OTPParams {
	return approval.OTPParams{Algorithm: approval.Algorithm(s.Algorithm), Digits: s.Digits, Period: time.Duration(s.Period) * time.Second}
}

// otpSettings turns approval's parameters into their stored form.
func otpSettings(p approval.OTPParams) selo.OTPSettings {
	return selo.OTPSettings{Algorithm: string(p.Algorithm), Digits: p.Digits, Period: int(p.Period / time.Second)}
}

// Associated data binding each sealed secret to its row, as approval.go documents.
func authenticatorAD(id string) []byte     { return []byte("authenticator/" + id) }
func authorizerAD(id string) []byte        { return []byte("authorizer/" + id) }
func walletEnrollmentAD(id string) []byte  { return []byte("wallet-enrollment/" + id) }
func codePurpose(approvalID string) string { return "approval/" + approvalID }
