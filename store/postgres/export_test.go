package postgres

// GroupsCommitted returns how many group transactions of CreateCertificate
// calls db committed.
func GroupsCommitted(db *DB) int64 { return db.groups.committed.Load() }

// GroupQueue returns how many CreateCertificate calls wait for the next group
// and whether a group is in flight.
func GroupQueue(db *DB) (waiting int, inFlight bool) {
	db.groups.mu.Lock()
	defer db.groups.mu.Unlock()
	return len(db.groups.waiting), db.groups.inFlight
}

// Refused exposes refused for its test.
func Refused(err error) bool { return refused(err) }
