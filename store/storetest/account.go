package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// newAccount returns an account fixture.
func newAccount(id, email string) *selo.Account {
	return &selo.Account{ID: id, Email: email, Name: "Holder " + id, Mobile: "+35191000" + id,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"}
}

// createAccounts stores one account per ID, with e-mail <id>@example.eu.
func createAccounts(tb testing.TB, st selo.Store, ids ...string) {
	tb.Helper()
	for _, id := range ids {
		must(tb, st.CreateAccount(context.Background(), newAccount(id, id+"@example.eu"), entry("account.create", "account/"+id)))
	}
}

// lockForHours is a lockout that lasts n hours after the nth lockout.
func lockForHours(n int) time.Duration { return time.Duration(n) * time.Hour }

func testAccount(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	audited := 0

	a := newAccount("a1", "Alice.Holder@Example.EU")
	must(t, st.CreateAccount(ctx, a, entry("account.create", "account/a1")))
	audited++
	if !a.CreatedAt.Equal(micro(start)) || a.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreateAccount filled in CreatedAt %v, want %v in UTC", a.CreatedAt, micro(start))
	}
	for _, find := range []func() (*selo.Account, error){
		func() (*selo.Account, error) { return st.FindAccount(ctx, "a1") },
		func() (*selo.Account, error) { return st.FindAccountByEmail(ctx, "alice.holder@example.eu") },
		func() (*selo.Account, error) { return st.FindAccountByEmail(ctx, "ALICE.HOLDER@EXAMPLE.EU") },
	} {
		got, err := find()
		must(t, err)
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("found %+v, want %+v", got, a)
		}
	}

	locked := newAccount("a2", "bob@example.eu")
	locked.Disabled, locked.FailedLogins, locked.Lockouts = true, 2, 3
	locked.LockedUntil = start.Add(time.Hour)
	must(t, st.CreateAccount(ctx, locked, entry("account.create", "account/a2")))
	audited++
	got, err := st.FindAccount(ctx, "a2")
	must(t, err)
	if !got.LockedUntil.Equal(micro(start.Add(time.Hour))) || !got.Disabled || got.FailedLogins != 2 || got.Lockouts != 3 {
		t.Fatalf("found %+v, want %+v", got, locked)
	}

	for name, bad := range map[string]*selo.Account{
		"same ID":           newAccount("a1", "carol@example.eu"),
		"same e-mail":       newAccount("a3", "alice.holder@example.eu"),
		"e-mail other case": newAccount("a3", "ALICE.holder@example.eu"),
	} {
		if err := st.CreateAccount(ctx, bad, entry("account.create", "account/"+bad.ID)); selo.ErrorCode(err) != selo.ECONFLICT {
			t.Fatalf("%s: error %v, want conflict", name, err)
		}
	}
	for name, bad := range map[string]*selo.Account{
		"no ID":     newAccount("", "dan@example.eu"),
		"no e-mail": newAccount("a4", ""),
		"no @":      newAccount("a4", "dan"),
	} {
		if err := st.CreateAccount(ctx, bad, entry("account.create", "account/a4")); selo.ErrorCode(err) != selo.EINVALID {
			t.Fatalf("%s: error %v, want invalid", name, err)
		}
	}
	wantCode(t, st.CreateAccount(ctx, newAccount("a5", "eve@example.eu"), nil), selo.EINVALID)
	_, err = st.FindAccount(ctx, "a5")
	wantCode(t, err, selo.ENOTFOUND)
	_, err = st.FindAccountByEmail(ctx, "eve@example.eu")
	wantCode(t, err, selo.ENOTFOUND)

	// Login failures: the third of three locks, for lockFor(1), and resets the count.
	now := start.Add(10 * time.Minute)
	for i, want := range []selo.LoginAttempt{
		{FailedLogins: 1}, {FailedLogins: 2}, {Lockouts: 1, LockedUntil: micro(now.Add(time.Hour))},
		{FailedLogins: 1, Lockouts: 1}, {FailedLogins: 2, Lockouts: 1}, {Lockouts: 2, LockedUntil: micro(now.Add(2 * time.Hour))},
	} {
		at, err := st.RecordLoginFailure(ctx, "a1", now, 3, lockForHours, entry("account.login", "account/a1"))
		must(t, err)
		audited++
		if at.FailedLogins != want.FailedLogins || at.Lockouts != want.Lockouts || !at.LockedUntil.Equal(want.LockedUntil) {
			t.Fatalf("failure %d: %+v, want %+v", i+1, at, want)
		}
	}
	got, err = st.FindAccount(ctx, "a1")
	must(t, err)
	if got.FailedLogins != 0 || got.Lockouts != 2 || !got.LockedUntil.Equal(micro(now.Add(2*time.Hour))) {
		t.Fatalf("after two lockouts the account is %+v", got)
	}
	_, err = st.RecordLoginFailure(ctx, "nobody", now, 3, lockForHours, entry("account.login", "account/nobody"))
	wantCode(t, err, selo.ENOTFOUND)
	_, err = st.RecordLoginFailure(ctx, "a1", now, 0, lockForHours, entry("account.login", "account/a1"))
	wantCode(t, err, selo.EINVALID)
	_, err = st.RecordLoginFailure(ctx, "a1", now, 3, lockForHours, nil)
	wantCode(t, err, selo.EINVALID)

	// A session resets the failure count.
	_, err = st.RecordLoginFailure(ctx, "a1", now, 3, lockForHours, entry("account.login", "account/a1"))
	must(t, err)
	audited++
	s := &selo.Session{TokenHash: "5e55", AccountID: "a1", ExpiresAt: start.Add(time.Hour)}
	must(t, st.CreateSession(ctx, s, entry("session.create", "account/a1")))
	audited++
	if got, _ := st.FindAccount(ctx, "a1"); got.FailedLogins != 0 {
		t.Fatalf("CreateSession left FailedLogins at %d", got.FailedLogins)
	}
	gotS, err := st.FindSession(ctx, "5e55", start.Add(time.Hour-time.Microsecond))
	must(t, err)
	if !reflect.DeepEqual(gotS, s) || !s.CreatedAt.Equal(micro(start)) {
		t.Fatalf("FindSession returned %+v, want %+v created at %v", gotS, s, micro(start))
	}
	for name, at := range map[string]time.Time{"at expiry": start.Add(time.Hour), "after expiry": start.Add(2 * time.Hour)} {
		_, err := st.FindSession(ctx, "5e55", at)
		if selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Fatalf("%s: FindSession error %v, want not found", name, err)
		}
	}
	_, err = st.FindSession(ctx, "0000", start)
	wantCode(t, err, selo.ENOTFOUND)
	wantCode(t, st.CreateSession(ctx, &selo.Session{TokenHash: "5e55", AccountID: "a2", ExpiresAt: start.Add(time.Hour)},
		entry("session.create", "account/a2")), selo.ECONFLICT)
	wantCode(t, st.CreateSession(ctx, &selo.Session{TokenHash: "6e66", AccountID: "nobody", ExpiresAt: start.Add(time.Hour)},
		entry("session.create", "account/nobody")), selo.ENOTFOUND)
	wantCode(t, st.CreateSession(ctx, &selo.Session{TokenHash: "6e66", AccountID: "a1"}, entry("session.create", "account/a1")), selo.EINVALID)

	must(t, st.DeleteSession(ctx, "5e55", entry("session.delete", "account/a1")))
	audited++
	_, err = st.FindSession(ctx, "5e55", start)
	wantCode(t, err, selo.ENOTFOUND)
	wantCode(t, st.DeleteSession(ctx, "5e55", entry("session.delete", "account/a1")), selo.ENOTFOUND)

	// A new password re-enables the account and clears the count; the lockout stays.
	_, err = st.RecordLoginFailure(ctx, "a2", now, 5, lockForHours, entry("account.login", "account/a2"))
	must(t, err)
	audited++
	must(t, st.UpdateAccountPassword(ctx, "a2", "$argon2id$new", entry("account.password", "account/a2")))
	audited++
	got, err = st.FindAccount(ctx, "a2")
	must(t, err)
	if got.PasswordHash != "$argon2id$new" || got.Disabled || got.FailedLogins != 0 || !got.LockedUntil.Equal(micro(locked.LockedUntil)) {
		t.Fatalf("after UpdateAccountPassword the account is %+v", got)
	}
	wantCode(t, st.UpdateAccountPassword(ctx, "nobody", "$argon2id$new", entry("account.password", "account/nobody")), selo.ENOTFOUND)
	wantCode(t, st.UpdateAccountPassword(ctx, "a2", "", entry("account.password", "account/a2")), selo.EINVALID)
	wantIntactAudit(t, st, audited)
}

// testConcurrentLoginFailures has 20 goroutines count a wrong password at
// once: every failure counts, and the account locks exactly at every fifth.
func testConcurrentLoginFailures(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	createAccounts(t, st, "a1")
	const attempts, maxFailures = 20, 5
	now := start.Add(time.Minute)

	results := make(chan *selo.LoginAttempt, attempts)
	errs := make(chan error, attempts)
	var wg sync.WaitGroup
	for i := 0; i < attempts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at, err := st.RecordLoginFailure(ctx, "a1", now, maxFailures, lockForHours, entry("account.login", "account/a1"))
			if err != nil {
				errs <- err
				return
			}
			results <- at
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	counts := map[int]int{}
	lockouts := map[int]bool{}
	for at := range results {
		if at.LockedUntil.IsZero() {
			counts[at.FailedLogins]++
			continue
		}
		if at.FailedLogins != 0 || lockouts[at.Lockouts] || !at.LockedUntil.Equal(micro(now.Add(lockForHours(at.Lockouts)))) {
			t.Fatalf("lockout %+v: want count 0, a new lockout number and the lockFor duration", at)
		}
		lockouts[at.Lockouts] = true
	}
	if want := map[int]int{1: 4, 2: 4, 3: 4, 4: 4}; !reflect.DeepEqual(counts, want) {
		t.Fatalf("failure counts seen %v, want %v", counts, want)
	}
	if len(lockouts) != attempts/maxFailures {
		t.Fatalf("%d lockouts, want %d", len(lockouts), attempts/maxFailures)
	}
	got, err := st.FindAccount(ctx, "a1")
	must(t, err)
	if got.FailedLogins != 0 || got.Lockouts != 4 || !got.LockedUntil.Equal(micro(now.Add(4*time.Hour))) {
		t.Fatalf("after %d failures the account is %+v", attempts, got)
	}
	wantIntactAudit(t, st, 1+attempts)
}

// exactlyOne runs fn n times at once and returns how many calls succeeded
// (returned nil) and the errors of the others.
func exactlyOne(n int, fn func(i int) error) (int, []error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	var errs []error
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else {
				errs = append(errs, fmt.Errorf("call %d: %w", i, err))
			}
		}(i)
	}
	wg.Wait()
	return wins, errs
}
