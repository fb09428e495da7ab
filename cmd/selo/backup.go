package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
)

// Files of a backup directory besides the copied data.
const (
	backupSums = "SHA256SUMS"  // sha256sum format: 'sha256sum -c SHA256SUMS' checks it too
	backupInfo = "backup.json" // what was copied, and how
)

// backupRecord is backup.json.
type backupRecord struct {
	Created   time.Time `json:"created"`
	Database  string    `json:"database"` // "sqlite" (selo.db is in the backup) or "postgres" (use pg_dump)
	MasterKey bool      `json:"master_key"`
	Keystore  string    `json:"keystore"`
}

// sqliteBackup is implemented by the SQLite store.
type sqliteBackup interface {
	VacuumInto(ctx context.Context, path string) error
}

func (c *cli) backupCommand() *cobra.Command {
	var withMasterKey bool
	cmd := &cobra.Command{
		Use:   "backup DIR",
		Short: "Copy the database, sealed keys and config into DIR, with SHA-256 sums",
		Long: `Backup writes a consistent copy of the data directory into DIR (a new or
empty directory) while 'selo serve' keeps running:

  selo.db      the SQLite database, copied with VACUUM INTO (one snapshot:
               every transaction committed before it, none after)
  keys/        the software key store's sealed key files, copied after the
               database, so every key the copy refers to is there
  selo.yaml    the config file; profiles/ and templates/ when present
  tls-self.json  which certificate --tls-self serves
  backup.json  when, which database, whether the master key is included
  SHA256SUMS   the SHA-256 of every file ('sha256sum -c SHA256SUMS' checks it)

The master key (DATA/master.key) is left out unless --self-contained:
with it, the backup opens every key it holds and is as sensitive as the keys
themselves. Keep the master key apart (a safe, a second custodian, or the
passphrase of SELO_MASTER_PASSPHRASE written down under dual control), and
the backup encrypted and access-controlled wherever it goes.

With PostgreSQL (--database postgres://...) the database is not copied:
back it up with pg_dump (docs/operators.md, "Backup and restore"); this
command copies the rest. With a PKCS#11 key store the keys are in the HSM
and are backed up with the HSM vendor's tools. The outbox (local e-mails and
text messages with one-time codes) is not copied.

'selo restore DIR --data NEWDIR' checks the sums, restores into a new data
directory and runs 'selo audit verify' on the result.`,
		Example: `  selo backup /var/backups/selo/$(date +%F)
  selo backup --self-contained /mnt/offline/selo-full`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.backup(cmd.Context(), args[0], withMasterKey)
		},
	}
	cmd.Flags().BoolVar(&withMasterKey, "self-contained", false, "also copy the master key file: the backup then opens every sealed key (store it like the keys)")
	return cmd
}

func (c *cli) backup(ctx context.Context, dir string, withMasterKey bool) (err error) {
	if err := c.open(ctx); err != nil {
		return err
	}
	if err := emptyDir(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			fmt.Fprintf(c.stderr, "backup failed: %s is incomplete, remove it\n", dir)
		}
	}()
	rec := backupRecord{Created: time.Now().UTC(), Database: "postgres", Keystore: c.keystore}
	if b, ok := c.store.(sqliteBackup); ok {
		rec.Database = "sqlite"
		if err := b.VacuumInto(ctx, filepath.Join(dir, "selo.db")); err != nil {
			return err
		}
	}
	// After the database: a key the copy refers to was made before it.
	for _, name := range []string{"keys", "profiles", "templates"} {
		if err := copyTree(filepath.Join(c.dataDir, name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	if err := copyFile(c.configPath, filepath.Join(dir, "selo.yaml")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := copyFile(filepath.Join(c.dataDir, selfTLSFile), filepath.Join(dir, selfTLSFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if withMasterKey {
		if err := copyFile(c.masterKeyFile, filepath.Join(dir, "master.key")); err != nil {
			return fmt.Errorf("backup: the master key: %w", err)
		}
		rec.MasterKey = true
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, backupInfo), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	n, err := writeSums(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "backed up %d files to %s (database: %s, master key: %v)\n", n, dir, rec.Database, rec.MasterKey)
	if rec.Database == "postgres" {
		fmt.Fprintln(c.stdout, "the PostgreSQL database is not in it: run pg_dump --format=custom (docs/operators.md, Backup and restore)")
	}
	if !rec.MasterKey && c.keystore == "soft" {
		fmt.Fprintln(c.stdout, "the master key is not in it: keep DATA/master.key (or the passphrase) in a safe place of its own")
	}
	return nil
}

func (c *cli) restoreCommand() *cobra.Command {
	var noVerify bool
	cmd := &cobra.Command{
		Use:   "restore DIR --data NEWDIR",
		Short: "Restore a backup into a new data directory and verify its audit log",
		Long: `Restore checks every SHA-256 sum of the backup in DIR (and that no file was
added), copies it into the data directory given by --data, which must not
exist or be empty, and runs 'selo audit verify' on the result.

Without the master key in the backup, put it back first: copy it to
NEWDIR/master.key (mode 0600) or set SELO_MASTER_PASSPHRASE or
--master-key-file; restore then verifies with it. With PostgreSQL restore
the database with pg_restore and pass --database as for 'selo serve'.`,
		Example: `  selo restore /var/backups/selo/2026-12-07 --data /var/lib/selo-restored
  selo --data /var/lib/selo-restored serve`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.restore(cmd.Context(), args[0], !noVerify)
		},
	}
	cmd.Flags().BoolVar(&noVerify, "no-verify", false, "do not run 'selo audit verify' on the result")
	return cmd
}

func (c *cli) restore(ctx context.Context, dir string, verify bool) error {
	files, err := checkSums(dir)
	if err != nil {
		return err
	}
	var rec backupRecord
	if b, err := os.ReadFile(filepath.Join(dir, backupInfo)); err != nil {
		return selo.Errorf(selo.EINVALID, "%s is not a Selo backup: %v", dir, err)
	} else if err := json.Unmarshal(b, &rec); err != nil {
		return selo.Errorf(selo.EINVALID, "%s: %s: %v", dir, backupInfo, err)
	}
	if err := emptyDir(c.dataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, f := range files {
		if f == backupInfo {
			continue
		}
		dst := filepath.Join(c.dataDir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := copyFile(filepath.Join(dir, filepath.FromSlash(f)), dst); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stdout, "restored %d files from %s into %s\n", len(files)-1, dir, c.dataDir)
	if rec.Database == "postgres" {
		fmt.Fprintln(c.stdout, "the database was PostgreSQL: restore it with pg_restore and pass --database")
	}
	if !verify {
		return nil
	}
	if c.keystore == "soft" && os.Getenv("SELO_MASTER_PASSPHRASE") == "" {
		if _, err := os.Stat(c.masterKeyFile); err != nil {
			db := ""
			if !c.databaseDefault {
				db = " --database DSN" // not the DSN itself: it may hold a password
			}
			fmt.Fprintf(c.stdout, "no master key at %s: put it there (mode 0600), then run: selo --data %s%s audit verify\n", c.masterKeyFile, c.dataDir, db)
			return nil
		}
	}
	// In a process of its own: the same command an auditor runs, over the
	// restored directory and the settings of this one.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"--data", c.dataDir, "--config", filepath.Join(c.dataDir, "selo.yaml"), "--master-key-file", c.masterKeyFile}
	if !c.databaseDefault {
		args = append(args, "--database", c.database)
	}
	v := exec.CommandContext(ctx, self, append(args, "audit", "verify")...)
	v.Stdout, v.Stderr = c.stdout, c.stderr
	if err := v.Run(); err != nil {
		return fmt.Errorf("restore: selo audit verify on %s failed: %w", c.dataDir, err)
	}
	return nil
}

// emptyDir refuses a directory that exists and holds anything.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) > 0:
		return selo.Errorf(selo.ECONFLICT, "%s is not empty: give a new or empty directory", dir)
	}
	return nil
}

// copyFile copies src to dst (a new file, mode 0600), with fsync.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies the regular files under src into dst; a missing src
// copies nothing.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == src {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			return copyFile(path, target)
		}
		return nil // sockets, links: not data
	})
}

// writeSums writes SHA256SUMS over every file under dir and returns how
// many it lists.
func writeSums(dir string) (int, error) {
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sum, err := fileSHA256(path)
		if err != nil {
			return err
		}
		lines = append(lines, sum+"  "+filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	sort.Strings(lines)
	return len(lines), os.WriteFile(filepath.Join(dir, backupSums), []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// checkSums checks every line of dir's SHA256SUMS and that dir holds no
// other file, and returns the listed paths.
func checkSums(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, backupSums))
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "%s is not a Selo backup: %v", dir, err)
	}
	defer f.Close()
	listed := map[string]bool{}
	var files []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		sum, name, err := parseSumLine(sc.Text())
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "%s line %d: %v", backupSums, n, err)
		}
		if listed[name] {
			return nil, selo.Errorf(selo.EINVALID, "%s line %d: %s is listed twice", backupSums, n, name)
		}
		got, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "backup file %s: %v", name, err)
		}
		if got != sum {
			return nil, selo.Errorf(selo.EINVALID, "backup file %s does not match its SHA-256: the backup is damaged or was changed", name)
		}
		listed[name] = true
		files = append(files, name)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel = filepath.ToSlash(rel); rel != backupSums && !listed[rel] {
			return selo.Errorf(selo.EINVALID, "backup file %s is not in %s: the backup was changed", rel, backupSums)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !listed[backupInfo] {
		return nil, selo.Errorf(selo.EINVALID, "%s does not list %s: not a Selo backup", backupSums, backupInfo)
	}
	return files, nil
}

// parseSumLine reads one line of SHA256SUMS: 64 lower-case hex digits, two
// spaces, and a clean relative path inside the backup (no "..", not
// absolute, no backslash or control character).
func parseSumLine(line string) (sum, name string, err error) {
	sum, name, ok := strings.Cut(line, "  ")
	if !ok || len(sum) != 64 || strings.ToLower(sum) != sum {
		return "", "", errors.New("not a 'SHA-256  relative/path' line")
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return "", "", errors.New("not a SHA-256 in hex")
	}
	bad := name == "" || !utf8.ValidString(name) || name != path.Clean(name) || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' })
	if bad {
		return "", "", fmt.Errorf("%q is not a clean relative path", name)
	}
	return sum, name, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
