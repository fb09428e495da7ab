package idcheck_test

import (
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/idcheck/mrztest"
)

// peerScript parses each MRZ with the npm package mrz (github.com/cheminfo/mrz),
// written by nobody here, and prints its verdict and fields.
const peerScript = `
const { parse } = require('mrz');
const out = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).map((s) => {
  try {
    const r = parse(s);
    return { valid: r.valid, number: r.fields.documentNumber, surname: r.fields.lastName, given: r.fields.firstName,
      birth: r.fields.birthDate, expiry: r.fields.expirationDate };
  } catch (e) {
    return { valid: false, error: e.message };
  }
});
console.log(JSON.stringify(out));
`

type peerVerdict struct {
	Valid                                 bool
	Number, Surname, Given, Birth, Expiry string
	Error                                 string
}

// TestMRZPeer builds valid and corrupted TD1 and TD3 MRZs and checks that
// ParseMRZ and the npm mrz parser agree on every one: valid or not, and the
// fields of the valid ones. SELO_NPM_MODULES names a node_modules folder
// holding mrz (CI installs it; see .ci/run).
func TestMRZPeer(t *testing.T) {
	modules := os.Getenv("SELO_NPM_MODULES")
	node, err := exec.LookPath("node")
	if modules == "" || err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI needs node and SELO_NPM_MODULES with the npm package mrz")
		}
		t.Skip("SKIPPED: set SELO_NPM_MODULES to a node_modules folder with the npm package mrz to cross-check the MRZ parser")
	}
	if _, err := os.Stat(filepath.Join(modules, "mrz")); err != nil {
		t.Fatalf("no mrz package in SELO_NPM_MODULES: %v", err)
	}
	r := rand.New(rand.NewSource(9303))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	word := func(n int, chars string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[r.Intn(len(chars))]
		}
		return string(b)
	}
	// Positions covered by check digits: [line, first, last], 1-based.
	covered := map[idcheck.Format][][3]int{
		idcheck.TD3: {{2, 1, 10}, {2, 14, 20}, {2, 22, 44}},
		idcheck.TD1: {{1, 6, 30}, {2, 1, 7}, {2, 9, 15}, {2, 19, 30}},
	}
	states := []string{"PRT", "ESP", "FRA", "POL", "D", "JPN", "BRA"}
	var mrzs []string
	var formats []idcheck.Format
	for i := 0; i < 600; i++ {
		d := mrztest.Document{State: states[r.Intn(len(states))], Surname: word(2+r.Intn(18), alnum[:26]),
			GivenNames: word(2+r.Intn(8), alnum[:26]) + " " + word(2+r.Intn(8), alnum[:26]),
			Birth:      time.Date(1930+r.Intn(95), time.Month(1+r.Intn(12)), 1+r.Intn(28), 0, 0, 0, 0, time.UTC),
			Expiry:     time.Date(2000+r.Intn(40), time.Month(1+r.Intn(12)), 1+r.Intn(28), 0, 0, 0, 0, time.UTC)}
		format := idcheck.TD3
		var s string
		if i%2 == 0 {
			d.Number = word(9, alnum)
			if r.Intn(2) == 0 {
				d.Optional = word(1+r.Intn(13), alnum)
			}
			s = mrztest.TD3(d)
		} else {
			format = idcheck.TD1
			d.Code, d.Number = "ID", word(5+r.Intn(8), alnum) // up to 12: the long-number rule too
			s = mrztest.TD1(d)
		}
		if i%3 == 0 {
			span := covered[format][r.Intn(len(covered[format]))]
			s = setChar(s, span[0], span[1]+r.Intn(span[2]-span[1]+1), alnum[r.Intn(len(alnum))])
		}
		mrzs = append(mrzs, s)
		formats = append(formats, format)
	}
	in := filepath.Join(t.TempDir(), "mrz.json")
	b, _ := json.Marshal(mrzs)
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "-e", peerScript, in)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var peer []peerVerdict
	if err := json.Unmarshal(out, &peer); err != nil || len(peer) != len(mrzs) {
		t.Fatalf("peer output: %v (%d verdicts)", err, len(peer))
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	valid := 0
	for i, s := range mrzs {
		m, err := idcheck.ParseMRZ(s, now)
		p := peer[i]
		if (err == nil) != p.Valid {
			t.Errorf("%s %q: selo %v, peer valid=%v %s", formats[i], s, err, p.Valid, p.Error)
			continue
		}
		if err != nil {
			continue
		}
		valid++
		if m.DocumentNumber != p.Number || m.Surname != p.Surname || m.GivenNames != p.Given {
			t.Errorf("%q: selo %s / %s / %s, peer %s / %s / %s", s, m.DocumentNumber, m.Surname, m.GivenNames, p.Number, p.Surname, p.Given)
		}
	}
	if valid < len(mrzs)/2 || valid == len(mrzs) {
		t.Fatalf("%d of %d valid: the corpus does not test both ways", valid, len(mrzs))
	}
}
