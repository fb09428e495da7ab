package authority

import (
	"context"

	"github.com/selo-qtsp/selo"
)

// auditPage is how many entries VerifyAudit reads at a time, so a long log is
// checked in bounded memory.
const auditPage = 1000

// VerifyAudit walks the whole audit log and returns how many entries it read
// and the first entry that was changed, removed or reordered (nil when intact).
func (a *Authority) VerifyAudit(ctx context.Context) (int64, *selo.AuditProblem, error) {
	var prev *selo.AuditEntry
	var n int64
	for {
		after := int64(0)
		if prev != nil {
			after = prev.Seq
		}
		page, err := a.store.ListAudit(ctx, after, auditPage)
		if err != nil {
			return n, nil, err
		}
		if len(page) == 0 {
			return n, nil, nil
		}
		if p := selo.VerifyAuditChain(prev, page); p != nil {
			return n, p, nil
		}
		n += int64(len(page))
		prev = page[len(page)-1]
	}
}
