// Command pkcs11 measures signing through Selo's PKCS#11 module against
// the CSC command-line client, for the same credential of a running
// `selo serve` (started by this program over a fresh data directory), each
// signature approved by the SMS code read at once from the local outbox:
//
//   - the module: `pkcs11-tool --module libselo-pkcs11.so --sign
//     --mechanism ECDSA` of one SHA-256 hash, one process per signature, as
//     an application that signs one document; the module texts the code
//     when the signature starts and its code command (this program with
//     -code) reads it from the outbox;
//   - the client: `selo csc send-otp CRED`, the code read from the outbox,
//     `selo csc sign-hash CRED --hash HEX --otp-file F`.
//
// (A wallet credential would need a qualified-sign credential, which only
// an order makes since issue 12; the SMS path exercises the same module
// code: SignInit, the approval, credentials/authorize, signatures/signHash.)
//
// It prints signatures per second and p50 latency of each, alternating the
// two -repeat times, and the median ratio module / client (target >= 90%).
//
//	go run ./bench/pkcs11                 # 10 signatures each way, 3 times
//	go run ./bench/pkcs11 -n 20 -repeat 5
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/bench/internal/benchkit"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pkcs11"
)

const (
	mobile   = "+351910000001"
	email    = "bench@example.pt"
	password = "correct horse battery staple"
)

func main() {
	bin := flag.String("selo", "", "selo binary (default: go build ./cmd/selo into a temporary directory)")
	n := flag.Int("n", 10, "signatures per measurement")
	repeat := flag.Int("repeat", 3, "alternate the two measurements this many times")
	code := flag.String("code", "", "print the newest SMS code sent to this mobile (the module's code command; SELO_DATA names the data directory)")
	flag.Parse()
	if *code != "" {
		c, err := newestCode(filepath.Join(os.Getenv("SELO_DATA"), "outbox"), *code)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Println(c)
		return
	}
	if err := run(*bin, *n, *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin string, n, repeat int) error {
	if n < 1 || repeat < 1 {
		return errors.New("-n and -repeat must be at least 1")
	}
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		return fmt.Errorf("pkcs11-tool (Debian's opensc) is needed: %w", err)
	}
	tmp, err := os.MkdirTemp("", "selo-bench-pkcs11-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin, err = benchkit.Selo(bin, tmp); err != nil {
		return err
	}
	module := filepath.Join(tmp, "libselo-pkcs11.so")
	if out, err := exec.Command("go", "build", "-buildmode=c-shared", "-o", module, "./cmd/selo-pkcs11").CombinedOutput(); err != nil {
		return fmt.Errorf("build the module: %v\n%s", err, out)
	}
	data := filepath.Join(tmp, "data")
	pwFile := filepath.Join(tmp, "password")
	if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(), "SELO_DATA="+data)
	if _, err := benchkit.Output(env, bin, "init", "--json"); err != nil {
		return err
	}
	if _, err := benchkit.Output(env, bin, "account", "create", "--email", email, "--name", "Bench Holder", "--mobile", "+351910000000", "--password-file", pwFile); err != nil {
		return err
	}
	out, err := benchkit.Output(env, bin, "credential", "create", "--account", email, "--profile", "advanced-invoice", "--approval", "sms",
		"--key-type", "ecdsa-p256", "--mobile", mobile, "--cn", "Bench Seal", "--org", "Bench Lda", "--org-id", "VATPT-500000000", "--country", "PT", "--json")
	if err != nil {
		return err
	}
	var cred struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &cred); err != nil || cred.ID == "" {
		return fmt.Errorf("credential create output %q: %v", out, err)
	}
	srv, err := benchkit.StartServer(env, bin, "--roles", "api",
		// Every signature sends a code: the code limits are for people.
		"--code-interval", "0", "--codes-per-hour", "0", "--account-codes-per-hour", "0")
	if err != nil {
		return err
	}
	defer srv.Stop()
	base := "http://" + srv.Addr
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// The holder's desktop: logged in with 'selo csc login', the module
	// configured with 'selo pkcs11 setup'.
	tokenFile := filepath.Join(tmp, "token.json")
	config := filepath.Join(tmp, "pkcs11.json")
	if _, err := benchkit.Output(env, bin, "csc", "login", "--server", base, "--email", email, "--password-file", pwFile, "--token-file", tokenFile); err != nil {
		return err
	}
	if _, err := benchkit.Output(env, bin, "pkcs11", "setup", "--config", config, "--server", base, "--email", email,
		"--token-file", tokenFile, "--log-file", "off", "--code-command", self+" -code '"+mobile+"'"); err != nil {
		return err
	}
	env = append(env, "SELO_PKCS11_CONFIG="+config)
	id, pub, err := credentialKey(base, tokenFile, cred.ID)
	if err != nil {
		return err
	}

	sum := sha256.Sum256([]byte("bench"))
	hashFile := filepath.Join(tmp, "hash")
	if err := os.WriteFile(hashFile, sum[:], 0o600); err != nil {
		return err
	}
	viaModule := func() error {
		sig := filepath.Join(tmp, "sig")
		cmd := exec.Command("pkcs11-tool", "--module", module, "--sign", "--mechanism", "ECDSA", "--id", id, "--input-file", hashFile, "--output-file", sig)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pkcs11-tool: %v\n%s", err, out)
		}
		raw, err := os.ReadFile(sig)
		if err != nil || len(raw) != 64 {
			return fmt.Errorf("signature of %d bytes: %v", len(raw), err)
		}
		if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])) {
			return errors.New("the module's signature does not verify")
		}
		return nil
	}
	otpFile := filepath.Join(tmp, "otp")
	viaClient := func() error {
		if _, err := benchkit.Output(env, bin, "csc", "send-otp", cred.ID, "--token-file", tokenFile); err != nil {
			return err
		}
		code, err := newestCode(filepath.Join(data, "outbox"), mobile)
		if err != nil {
			return err
		}
		if err := os.WriteFile(otpFile, []byte(code+"\n"), 0o600); err != nil {
			return err
		}
		_, err = benchkit.Output(env, bin, "csc", "sign-hash", cred.ID, "--token-file", tokenFile, "--hash", hex.EncodeToString(sum[:]),
			"--hash-alg", "sha256", "--otp-file", otpFile, "--out-dir", tmp)
		return err
	}
	fmt.Printf("signing one SHA-256 hash with a P-256 SMS credential, %d signatures per measurement (load average %s)\n", n, benchkit.LoadAverage())
	var ratios []float64
	for r := 0; r < repeat; r++ {
		cRate, cP50, err := measure(n, viaClient)
		if err != nil {
			return fmt.Errorf("selo csc sign-hash: %w", err)
		}
		mRate, mP50, err := measure(n, viaModule)
		if err != nil {
			return fmt.Errorf("module: %w", err)
		}
		fmt.Printf("  selo csc sign-hash:  %6.2f signatures/s, p50 %7.1f ms\n", cRate, ms(cP50))
		fmt.Printf("  PKCS#11 module:      %6.2f signatures/s, p50 %7.1f ms   (ratio %5.1f%%)\n", mRate, ms(mP50), 100*mRate/cRate)
		ratios = append(ratios, 100*mRate/cRate)
	}
	fmt.Printf("median ratio module / selo csc sign-hash of %d: %5.1f%% (target >= 90%%)\n", len(ratios), benchkit.Median(ratios))
	return nil
}

// measure runs sign n times one after another and returns the rate and
// the median latency.
func measure(n int, sign func() error) (float64, time.Duration, error) {
	lat := make([]int64, 0, n)
	start := time.Now()
	for range n {
		t := time.Now()
		if err := sign(); err != nil {
			return 0, 0, err
		}
		lat = append(lat, int64(time.Since(t)))
	}
	return float64(n) / time.Since(start).Seconds(), time.Duration(benchkit.Median(lat)), nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// credentialKey returns the module's CKA_ID (hex) and the public key of a
// credential, read through the CSC API.
func credentialKey(base, tokenFile, cred string) (string, *ecdsa.PublicKey, error) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return "", nil, err
	}
	if err := json.Unmarshal(b, &tok); err != nil {
		return "", nil, err
	}
	cl, err := csc.NewClient(base+"/csc/v2", csc.WithAccessToken(tok.AccessToken))
	if err != nil {
		return "", nil, err
	}
	d, err := cl.CredentialInfo(context.Background(), cred)
	if err != nil {
		return "", nil, err
	}
	certs, err := d.Certificates()
	if err != nil {
		return "", nil, err
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return "", nil, fmt.Errorf("credential %s holds no ECDSA key", cred)
	}
	return hex.EncodeToString(pkcs11.KeyID(certs[0])), pub, nil
}

// newestCode returns the code of the newest SMS to mobile in the outbox.
func newestCode(dir, mobile string) (string, error) {
	o, err := notify.OpenOutbox(dir, selo.SystemClock{})
	if err != nil {
		return "", err
	}
	msgs, err := o.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelSMS, To: mobile})
	if err != nil {
		return "", err
	}
	if len(msgs) == 0 {
		return "", errors.New("no SMS in the outbox")
	}
	code := benchkit.SMSCode(msgs[len(msgs)-1].Body)
	if code == "" {
		return "", errors.New("no code in the newest SMS")
	}
	return code, nil
}
